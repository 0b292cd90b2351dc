// The buffered-bytes budget: reservations, buffers paying before they grow, giving back.
#include "memory_budget.h"

#include <doctest/doctest.h>

#include <string>

using faas::BudgetedBuffer;
using faas::MemoryBudget;
using faas::Reservation;

TEST_CASE("a reservation takes from the budget within its limit and gives everything back") {
    MemoryBudget budget(1000);
    {
        Reservation a(budget);
        Reservation b(budget);
        CHECK(a.grow(600));
        CHECK_FALSE(b.grow(401));
        CHECK(b.grow(400));
        CHECK(budget.in_use() == 1000);
        CHECK_FALSE(a.grow(1));
        a.shrink(100);
        CHECK(budget.in_use() == 900);
        Reservation moved = std::move(b);
        CHECK(b.bytes() == 0);
        CHECK(moved.bytes() == 400);
        CHECK(budget.in_use() == 900);
    }
    CHECK(budget.in_use() == 0);
}

TEST_CASE("a budgeted buffer pays for its capacity before growing and refuses past the budget") {
    MemoryBudget budget(1 << 20);
    Reservation memory(budget);
    {
        BudgetedBuffer buffer(memory, 1 << 20);
        std::string chunk(100 * 1024, 'x');
        int appended = 0;
        while (buffer.append(chunk.data(), chunk.size())) ++appended;
        // 1 MiB cannot hold a buffer past 512 KiB: growing it holds old and new at once.
        CHECK(appended >= 4);
        CHECK(buffer.size() == appended * chunk.size());
        CHECK(budget.in_use() >= buffer.str().capacity());
        CHECK(budget.in_use() <= budget.limit());
    }
    CHECK(budget.in_use() == 0);  // A buffer that was not taken gives back what it paid.
}

TEST_CASE("taken contents stay paid for until the reservation ends") {
    MemoryBudget budget(1 << 20);
    std::string body;
    {
        Reservation memory(budget);
        {
            BudgetedBuffer buffer(memory, 1 << 20, 1000);  // 1000 bytes prepaid.
            CHECK(memory.grow(1000));                      // What admission paid.
            std::string text(1000, 'y');
            CHECK(buffer.append(text.data(), text.size()));
            CHECK(budget.in_use() == 1000);  // The prepaid room, not paid twice.
            CHECK(buffer.prepend("status\n"));
            body = buffer.take();
        }
        CHECK(body.size() == 1007);
        CHECK(body.rfind("status\n", 0) == 0);
        CHECK(budget.in_use() > 0);
    }
    CHECK(budget.in_use() == 0);
}

TEST_CASE("a reservation without a budget grows freely") {
    Reservation unbounded;
    CHECK(unbounded.grow(1ULL << 40));
    BudgetedBuffer buffer(unbounded, 16);
    CHECK(buffer.append("0123456789abcdefXYZ", 19));  // Past max_capacity: grows exactly.
    CHECK(buffer.str() == "0123456789abcdefXYZ");
}
