// Compiled and run in the image build (every function/*_test.cpp is a program of its own,
// linked with the handler's sources): a failing test fails the build. Plain asserts.
#include "handler.h"

#include <cassert>
#include <cstdio>
#include <string>

int main() {
    assert(handle("hi") == "Hello from cpp! You said: hi");
    assert(handle("") == "Hello from cpp! You said: ");
    std::puts("handler_test: 2 passed, 0 failed");
    return 0;
}
