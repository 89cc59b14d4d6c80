// Reads a /proc/net file as seen from another network namespace, for the
// completeness check (src/completeness/). Stateless.
#pragma once

#include <napi.h>

// netnsFile(nsPath, name) -> { ino, text }: the namespace file's inode (the
// netns inode that records carry) and /proc/net/<name> inside it.
Napi::Value NetnsFile(const Napi::CallbackInfo& info);
