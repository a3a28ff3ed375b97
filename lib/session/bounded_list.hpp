// BoundedList<T, N>: a vector whose capacity lives inside the object, so a step result
// never allocates for its own bookkeeping. Value type; any thread.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <utility>

namespace jg {

template <class T, std::size_t N>
class BoundedList {
  public:
    BoundedList() = default;
    BoundedList(const BoundedList &o) {
        for (const T &x : o)
            emplace_back(x);
    }
    BoundedList(BoundedList &&o) noexcept {
        for (T &x : o)
            emplace_back(std::move(x));
    }
    BoundedList &operator=(const BoundedList &o) {
        if (this != &o) {
            clear();
            for (const T &x : o)
                emplace_back(x);
        }
        return *this;
    }
    BoundedList &operator=(BoundedList &&o) noexcept {
        if (this != &o) {
            clear();
            for (T &x : o)
                emplace_back(std::move(x));
        }
        return *this;
    }
    ~BoundedList() { clear(); }

    // Overflow is a programming error (capacities are sized for the worst step), so it
    // stops the process rather than dropping an audit event silently.
    template <class... A>
    T &emplace_back(A &&...args) {
        if (size_ == N)
            std::abort();
        T *p = std::construct_at(data() + size_, std::forward<A>(args)...);
        ++size_;
        return *p;
    }
    void push_back(T v) { emplace_back(std::move(v)); }

    void clear() {
        std::destroy(begin(), end());
        size_ = 0;
    }

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    static constexpr std::size_t capacity() { return N; }

    T *data() { return std::launder(reinterpret_cast<T *>(storage_)); }
    const T *data() const { return std::launder(reinterpret_cast<const T *>(storage_)); }
    T *begin() { return data(); }
    T *end() { return data() + size_; }
    const T *begin() const { return data(); }
    const T *end() const { return data() + size_; }
    T &operator[](std::size_t i) { return data()[i]; }
    const T &operator[](std::size_t i) const { return data()[i]; }
    T &back() { return data()[size_ - 1]; }
    const T &back() const { return data()[size_ - 1]; }

  private:
    alignas(T) std::byte storage_[N * sizeof(T)];
    std::size_t size_ = 0;
};

}  // namespace jg
