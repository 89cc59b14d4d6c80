// setns(2) changes the calling thread's namespace, so the read happens on a
// short-lived thread of its own: the JS thread and libuv's pool never move.
// The inode comes from the same descriptor that setns() enters, so the text
// and the inode cannot belong to two different namespaces.
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "errors.h"

namespace {

// Names under /proc/net: letters, digits, '_' and '6' style suffixes only.
bool PlainName(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

Napi::Value NetnsFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    Napi::TypeError::New(env, "netnsFile(nsPath, name) needs two strings").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  if (!PlainName(name)) {
    ThrowError(env, "netnsFile: '" + name + "' is not a /proc/net file name", EINVAL, "pass e.g. 'snmp'");
    return env.Undefined();
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    ThrowError(env, "opening " + path, e, "the namespace is gone, or rstrace lacks CAP_SYS_ADMIN");
    return env.Undefined();
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    ThrowError(env, "fstat " + path, e, "the namespace is gone");
    return env.Undefined();
  }
  std::string text;
  int err = 0;
  const char* step = "setns";
  std::thread reader([&] {
    if (setns(fd, CLONE_NEWNET) != 0) {
      err = errno;
      return;
    }
    // thread-self: /proc/self/net would show the thread group leader's namespace
    std::string file = "/proc/thread-self/net/" + name;
    int f = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (f < 0) {
      err = errno;
      step = "open";
      return;
    }
    char buf[4096];
    for (;;) {
      ssize_t n = read(f, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        err = errno;
        step = "read";
        break;
      }
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
    }
    close(f);
  });
  reader.join();
  close(fd);
  if (err) {
    ThrowError(env, std::string(step) + " for /proc/net/" + name + " in " + path, err,
               err == EPERM ? "run rstrace as root (setns needs CAP_SYS_ADMIN)" : "the namespace may be gone");
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("ino", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  out.Set("text", Napi::String::New(env, text));
  return out;
}
