// libbpf failures as JS exceptions: message, errno, and the remedy a person
// can act on. libbpf's own log is captured, not printed, and attached as
// `details` so that the one-line error stays one line.
#pragma once

#include <napi.h>

#include <string>

void ThrowError(Napi::Env env, const std::string& what, int err, const std::string& remedy,
                const std::string& details = "");
void ThrowLibbpf(Napi::Env env, const char* what, int err, const std::string& log);

// Captures libbpf's messages for the lifetime of the object (main thread only).
class LibbpfLog {
 public:
  LibbpfLog();
  ~LibbpfLog();
  std::string Text() const;
  // Route libbpf's printing through the capture (silent unless RSTRACE_LIBBPF_DEBUG is set).
  static void Install();
};
