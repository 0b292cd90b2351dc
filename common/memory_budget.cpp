// The buffered-bytes budget.
#include "memory_budget.h"

#include <malloc.h>

#include <algorithm>

namespace faas {
namespace {

// Trimming walks every arena: worth it only when a burst actually freed something sizable.
constexpr std::uint64_t kTrimAfterBytes = 4u << 20;
constexpr std::size_t kMinCapacity = 64 * 1024;

}  // namespace

MemoryBudget::MemoryBudget(std::uint64_t limit) : limit_(limit) {}

bool MemoryBudget::try_take(std::uint64_t bytes) {
    if (bytes == 0) return true;
    std::uint64_t current = in_use_.load();
    do {
        if (bytes > limit_ || current > limit_ - bytes) return false;
    } while (!in_use_.compare_exchange_weak(current, current + bytes));
    taken_since_trim_.fetch_add(bytes);
    return true;
}

void MemoryBudget::give_back(std::uint64_t bytes) {
    if (bytes == 0) return;
    if (in_use_.fetch_sub(bytes) != bytes) return;
    if (taken_since_trim_.load() < kTrimAfterBytes) return;
    std::unique_lock<std::mutex> lock(trim_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    taken_since_trim_ = 0;
    ::malloc_trim(0);
}

Reservation::Reservation(Reservation&& other) noexcept
    : budget_(other.budget_), bytes_(other.bytes_) {
    other.bytes_ = 0;
}

Reservation& Reservation::operator=(Reservation&& other) noexcept {
    if (this != &other) {
        reset();
        budget_ = other.budget_;
        bytes_ = other.bytes_;
        other.bytes_ = 0;
    }
    return *this;
}

bool Reservation::grow(std::uint64_t bytes) {
    if (budget_ && !budget_->try_take(bytes)) return false;
    bytes_ += bytes;
    return true;
}

void Reservation::shrink(std::uint64_t bytes) {
    bytes = std::min(bytes, bytes_);
    bytes_ -= bytes;
    if (budget_) budget_->give_back(bytes);
}

void Reservation::reset() {
    shrink(bytes_);
}

BudgetedBuffer::BudgetedBuffer(Reservation& reservation, std::uint64_t max_capacity,
                               std::uint64_t prepaid)
    : reservation_(reservation), max_capacity_(max_capacity), paid_(prepaid) {
    if (prepaid > 0) text_.reserve(static_cast<std::size_t>(prepaid));
}

BudgetedBuffer::~BudgetedBuffer() {
    if (!taken_) reservation_.shrink(paid_);
}

bool BudgetedBuffer::make_room(std::size_t needed) {
    if (needed <= text_.capacity()) return true;
    std::uint64_t grown =
        std::max<std::uint64_t>(kMinCapacity, 2 * std::uint64_t{text_.capacity()});
    std::uint64_t capacity = std::max<std::uint64_t>(needed, std::min(grown, max_capacity_));
    // While the contents move, the old and the new allocation both exist: pay for the new one
    // in full, and give the old one back once it is gone. When the budget is tight, growing by
    // just enough may still fit where doubling does not.
    if (!reservation_.grow(capacity)) {
        capacity = std::max<std::uint64_t>(
            needed, std::min<std::uint64_t>(text_.capacity() + kMinCapacity, max_capacity_));
        if (!reservation_.grow(capacity)) return false;
    }
    // Into a fresh string: reserve() on a non-empty one may round the capacity up to double
    // the old, which would be memory nobody paid for.
    {
        std::string moved;
        moved.reserve(static_cast<std::size_t>(capacity));
        moved.append(text_);
        text_.swap(moved);
    }
    reservation_.shrink(paid_);
    paid_ = capacity;
    return true;
}

bool BudgetedBuffer::append(const char* data, std::size_t size) {
    if (!make_room(text_.size() + size)) return false;
    text_.append(data, size);
    return true;
}

bool BudgetedBuffer::prepend(const std::string& text) {
    if (!make_room(text_.size() + text.size())) return false;
    text_.insert(0, text);
    return true;
}

std::string BudgetedBuffer::take() {
    taken_ = true;
    return std::move(text_);
}

void tune_malloc_for_bursts() {
    ::mallopt(M_ARENA_MAX, 4);
    // Setting the threshold also stops glibc from raising it after each big free, which is
    // what kept earlier bursts' buffers in the heap.
    ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

}  // namespace faas
