// libarchive's own <archive.h> and <archive_entry.h>. common/ is on the include path and its
// archive.h (faas::extract_archive...) hides libarchive's header of the same name, so this
// wrapper reaches it with #include_next. Include it with angle brackets: <libarchive.h>.
#pragma once
#pragma GCC system_header

#include_next <archive.h>
#include <archive_entry.h>
