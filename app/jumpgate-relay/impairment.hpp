// Impairment model of the relay: per-direction settings (loss, delay/jitter, blackhole,
// duplication, reordering) and the seeded decisions taken for each packet. Relay loop thread.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>

namespace jg::relay {

enum class Direction : uint8_t { up, down };  // up: client -> gateway, down: gateway -> client
inline constexpr Direction kDirections[] = {Direction::up, Direction::down};
std::string_view direction_name(Direction d);

enum class JitterShape : uint8_t { uniform, normal };
std::string_view jitter_shape_name(JitterShape s);

// Upper bound of a 'lose' rule's COUNT and SKIP: a rule is for chosen datagrams, not a rate.
inline constexpr uint32_t kMaxLoseCount = 1'000'000;

// Packets one direction's delay queue holds by default: netem's default limit.
inline constexpr uint32_t kDefaultQueueLimit = 1000;
inline constexpr uint32_t kMaxQueueLimit = 1'000'000;

// What the relay does to one direction. Percentages are 0..100.
struct DirectionImpairment {
    bool blackhole = false;
    double drop_percent = 0;
    double duplicate_percent = 0;
    double reorder_percent = 0;
    uint32_t delay_ms = 0;
    // uniform: delay +- jitter_ms; normal: standard deviation jitter_ms. Never below 0 ms.
    uint32_t jitter_ms = 0;
    JitterShape jitter_shape = JitterShape::uniform;
    // A packet held back for reordering leaves at the latest after this long (ms) when no
    // later packet overtakes it.
    uint32_t reorder_hold_ms = 100;
    // Packets that may wait in the delay queue at once (1..kMaxQueueLimit); a packet that
    // finds it full is dropped. Not an impairment: 'clear' keeps it.
    uint32_t queue_limit = kDefaultQueueLimit;
    // Targeted loss ('lose'): of the packets the blackhole lets in (only those of exactly
    // lose_size bytes when it is not 0), lose_skip more pass, then the next lose_count are
    // dropped. Both count down as packets meet them, so the rule ends by itself. With
    // lose_following, the rule sleeps until the other direction has carried (forwarded, or
    // queued for its delay) a datagram of that many bytes: "the reply to that message",
    // whatever came before it.
    uint32_t lose_count = 0;
    uint32_t lose_skip = 0;
    uint32_t lose_size = 0;       // datagram bytes (UDP payload); 0: any size
    uint32_t lose_following = 0;  // bytes of the other direction's datagram that wakes it; 0: none
};

// Whether targeted loss takes this packet of `len` bytes (UDP payload), counting `d` down.
bool take_targeted_loss(DirectionImpairment &d, size_t len);
// A datagram of `len` bytes went the other way: wakes `d`'s rule if it waits for that size.
void note_opposite_datagram(DirectionImpairment &d, size_t len);

enum class Verdict : uint8_t { forward, drop_blackhole, drop_loss };

struct PacketFate {
    Verdict verdict = Verdict::forward;
    bool duplicate = false;
    bool hold_for_reorder = false;
    uint64_t delay_us = 0;
};

// One per direction so that each direction's decisions depend only on its own packets: the
// same seed and the same packet sequence give the same fates. Each packet draws a fixed set of
// numbers, so the n-th packet's fate depends on the seed, n and the settings it meets only.
class ImpairmentModel {
  public:
    explicit ImpairmentModel(uint64_t seed) : rng_(seed) {}

    PacketFate decide(const DirectionImpairment &settings);

  private:
    double unit();  // [0, 1)
    // u1, u2: uniform in [0, 1), drawn whether or not the settings jitter.
    static uint64_t delay_us(const DirectionImpairment &s, double u1, double u2);

    std::mt19937_64 rng_;
};

// The seed of a direction's model, derived from the relay's --seed.
uint64_t direction_seed(uint64_t seed, Direction d);

}  // namespace jg::relay
