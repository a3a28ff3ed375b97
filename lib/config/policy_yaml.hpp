// Internal to lib/config: reading and writing policy profiles as YAML, shared by the policy
// file and the gateway configuration. Control path only; any thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string_view>

#include "config/policy_file.hpp"
#include "config/yaml_reader.hpp"

namespace jg::config_detail {

// `node` is the `policies` mapping (may be undefined: only the built-in default then).
PolicySet read_policy_set(const YAML::Node &node, std::string_view path, Diagnostics &diag);
void emit_policy_set(YAML::Emitter &out, const PolicySet &set);

}  // namespace jg::config_detail
