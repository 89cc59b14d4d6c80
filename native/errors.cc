#include "errors.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace {

std::string g_log;
bool g_capturing = false;

int PrintToLog(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (getenv("RSTRACE_LIBBPF_DEBUG")) return vfprintf(stderr, fmt, args);
  if (!g_capturing || level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (g_log.size() < (64u << 10)) g_log.append(buf);
  return n;
}

std::string RemedyFor(int err) {
  switch (err) {
    case EPERM:
    case EACCES:
      return "run as root or grant CAP_BPF and CAP_PERFMON (CAP_NET_ADMIN too for socket cookies); "
             "run 'rstrace doctor' for details";
    case ENOENT:
    case ESRCH:
      return "this kernel lacks a hook or type rstrace needs; run 'rstrace doctor' to see which";
    case ENOMEM:
      return "raise the locked-memory limit (ulimit -l unlimited) or free memory";
    case E2BIG:
    case EINVAL:
      return "the kernel's verifier rejected the program; run 'rstrace doctor' and report the details";
    case EBUSY:
      return "another tool holds this hook exclusively; stop it and retry";
    default:
      return "run 'rstrace doctor' to check what this host supports";
  }
}

}  // namespace

void ThrowError(Napi::Env env, const std::string& what, int err, const std::string& remedy,
                const std::string& details) {
  std::string msg = what + ": " + strerror(err) + " (errno " + std::to_string(err) + "): " + remedy;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("remedy", Napi::String::New(env, remedy));
  e.Set("details", Napi::String::New(env, details));
  e.ThrowAsJavaScriptException();
}

void ThrowLibbpf(Napi::Env env, const char* what, int err, const std::string& log) {
  if (err <= 0) err = EINVAL;
  ThrowError(env, std::string(what) + " failed", err, RemedyFor(err), log);
}

LibbpfLog::LibbpfLog() {
  g_log.clear();
  g_capturing = true;
}

void LibbpfLog::Install() { libbpf_set_print(PrintToLog); }

LibbpfLog::~LibbpfLog() { g_capturing = false; }

std::string LibbpfLog::Text() const { return g_log; }
