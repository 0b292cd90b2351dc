// A process-wide bound on the bytes a program buffers for requests: bodies being read and
// answers held until they are written (fwatchdog's outputs, the gateway's function responses).
// Each buffer pays for its capacity before it is allocated, so the total stays under
// max_buffered_bytes however many calls run or however slowly their clients read; when it is
// spent, new work gets 503 instead of the process growing without bound.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace faas {

class MemoryBudget {
  public:
    explicit MemoryBudget(std::uint64_t limit);

    /// Takes `bytes` if they fit under the limit.
    bool try_take(std::uint64_t bytes);
    /// Returns `bytes`. When nothing is held any more after a burst, the freed heap is handed
    /// back to the system (malloc_trim), so RSS returns near idle.
    void give_back(std::uint64_t bytes);

    std::uint64_t limit() const { return limit_; }
    std::uint64_t in_use() const { return in_use_.load(); }

  private:
    const std::uint64_t limit_;
    std::atomic<std::uint64_t> in_use_{0};
    std::atomic<std::uint64_t> taken_since_trim_{0};
    std::mutex trim_mutex_;  ///< One trim at a time; others skip theirs.
};

/// Bytes one request holds from the budget; all given back when it is destroyed. Move-only.
/// A default-constructed one belongs to no budget and grows without limit (tests, tools).
class Reservation {
  public:
    Reservation() = default;
    explicit Reservation(MemoryBudget& budget) : budget_(&budget) {}
    ~Reservation() { reset(); }
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;

    bool grow(std::uint64_t bytes);
    void shrink(std::uint64_t bytes);
    void reset();
    std::uint64_t bytes() const { return bytes_; }

  private:
    MemoryBudget* budget_ = nullptr;
    std::uint64_t bytes_ = 0;
};

/// A string whose capacity is paid for from a reservation before it is allocated. It grows
/// geometrically up to `max_capacity` (beyond that, exactly), so a body of known length or an
/// output near its bound is never held at twice its size.
class BudgetedBuffer {
  public:
    /// `prepaid`: bytes the reservation already holds for this buffer (a declared body length);
    /// the buffer allocates them at once.
    BudgetedBuffer(Reservation& reservation, std::uint64_t max_capacity, std::uint64_t prepaid = 0);
    /// Gives back what it paid, unless the contents were taken: the reservation then keeps
    /// paying for them until the response is written.
    ~BudgetedBuffer();
    BudgetedBuffer(const BudgetedBuffer&) = delete;
    BudgetedBuffer& operator=(const BudgetedBuffer&) = delete;

    /// False, appending nothing, when the budget cannot pay for the room needed.
    bool append(const char* data, std::size_t size);
    /// Puts `text` before the contents (paid for like an append).
    bool prepend(const std::string& text);
    const std::string& str() const { return text_; }
    std::size_t size() const { return text_.size(); }
    /// Moves the contents out (for a response body).
    std::string take();

  private:
    bool make_room(std::size_t needed);

    Reservation& reservation_;
    std::uint64_t max_capacity_;
    std::uint64_t paid_ = 0;
    bool taken_ = false;
    std::string text_;
};

/// Tunes glibc malloc for a server whose big buffers come and go in bursts: few arenas (one per
/// thread up to 8 x cores otherwise, each keeping its own free memory) and buffers of 256 KiB
/// or more in their own mappings, returned to the system the moment they are freed. Call once
/// from main before threads start.
void tune_malloc_for_bursts();

}  // namespace faas
