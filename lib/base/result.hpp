// Result<T>: a value or an Error naming what was wrong (std::expected-style, C++20).
// Control path only; any thread may use it. The hot path returns plain codes instead.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace jg {

// An error a person can act on: `where` names the input (file, YAML path, field, packet
// offset) and `what` says what is wrong with it.
struct Error {
    std::string where;
    std::string what;

    std::string message() const { return where.empty() ? what : where + ": " + what; }
};

template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() & { return std::get<0>(v_); }
    const T &value() const & { return std::get<0>(v_); }
    T &&value() && { return std::get<0>(std::move(v_)); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }

    const Error &error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

// For operations that produce nothing but can fail.
struct Ok {};
using Status = Result<Ok>;

inline Error make_error(std::string where, std::string what) {
    return Error{std::move(where), std::move(what)};
}

}  // namespace jg
