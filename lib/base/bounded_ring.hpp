// BoundedRing: the newest kCapacity values pushed, in a buffer that grows as they come and
// then wraps, so an owner that never fills it pays for what it holds. Value type, one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace jg {

template <typename T, uint32_t kCapacity>
class BoundedRing {
    static_assert(kCapacity > 0);

  public:
    void push(const T &value) {
        if (items_.size() < kCapacity) {
            items_.push_back(value);
            return;
        }
        items_[next_] = value;
        next_ = (next_ + 1) % kCapacity;
    }
    uint32_t size() const { return static_cast<uint32_t>(items_.size()); }
    bool empty() const { return items_.empty(); }
    // The i-th newest value (i = 0: the newest); i < size().
    const T &newest(uint32_t i = 0) const {
        const size_t held = items_.size();
        // Until the buffer is full the newest value is the last one appended (next_ == 0).
        const size_t end = held < kCapacity ? held : next_;
        return items_[(end + held - 1 - i) % held];
    }

  private:
    std::vector<T> items_;
    uint32_t next_ = 0;  // where the next value goes once the buffer is full: the oldest
};

}  // namespace jg
