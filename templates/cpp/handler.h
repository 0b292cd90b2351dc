// The interface between the cpp template's entry (main.cpp) and a function's handler.
#pragma once

#include <string>

// Answers one request: `request` is the whole request body; the returned string is the whole
// answer. Throwing fails the call: the exception's message goes to stderr and the process exits
// with status 1, which the watchdog answers with a 500.
std::string handle(const std::string& request);
