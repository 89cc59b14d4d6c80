// Module init: the Tracer class plus a few stateless helpers that need C:
// the record layout (for the decoder's test), the boot-to-wall clock offset,
// BTF look-ups and hook probes (for `doctor` and kernel variance).
#include <napi.h>
#include <stddef.h>
#include <time.h>

#include <linux/types.h>

#include "errors.h"
#include "probe.h"
#include "rstrace.h"
#include "tracer.h"

namespace {

// Offsets straight from the shared header: the decoder is tested against these.
Napi::Value Layout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Object off = Napi::Object::New(env);
#define OFF(f) off.Set(#f, Napi::Number::New(env, offsetof(struct rst_event, f)))
  OFF(ts_ns); OFF(cookie); OFF(cgroup_id); OFF(ino); OFF(laddr); OFF(raddr); OFF(netns);
  OFF(reason); OFF(owner_pid); OFF(owner_tid); OFF(ctx_pid); OFF(ctx_tid); OFF(unread);
  OFF(unsent); OFF(lport); OFF(rport); OFF(family); OFF(kind); OFF(state); OFF(prev_state);
  OFF(tcp_flags); OFF(sk_err); OFF(probes); OFF(flags); OFF(hook); OFF(old_state); OFF(syscall);
  OFF(owner_comm); OFF(ctx_comm);
#undef OFF
  o.Set("size", Napi::Number::New(env, sizeof(struct rst_event)));
  o.Set("offsets", off);
  o.Set("commLen", Napi::Number::New(env, RST_COMM_LEN));
  o.Set("reasonNone", Napi::Number::New(env, RST_REASON_NONE));
  Napi::Object flags = Napi::Object::New(env);
#define FLAG(f) flags.Set(#f, Napi::Number::New(env, f))
  FLAG(RST_F_HAS_SK); FLAG(RST_F_HAS_REASON); FLAG(RST_F_OWNER_KNOWN); FLAG(RST_F_IN_TASK);
  FLAG(RST_F_LINGER0); FLAG(RST_F_DEAD); FLAG(RST_F_ACCEPTQ_FULL); FLAG(RST_F_FULLSOCK);
  FLAG(RST_F_KEEPALIVE); FLAG(RST_F_USER_TIMEOUT); FLAG(RST_F_IN_SYSCALL); FLAG(RST_F_PREV_STATE);
  FLAG(RST_F_RCV_SHUTDOWN); FLAG(RST_F_OWNER_LISTENER);
#undef FLAG
  o.Set("flags", flags);
  Napi::Object kinds = Napi::Object::New(env);
  kinds.Set("RST_KIND_SENT", Napi::Number::New(env, RST_KIND_SENT));
  kinds.Set("RST_KIND_RECEIVED", Napi::Number::New(env, RST_KIND_RECEIVED));
  kinds.Set("RST_KIND_ABORT", Napi::Number::New(env, RST_KIND_ABORT));
  o.Set("kinds", kinds);
  Napi::Object hooks = Napi::Object::New(env);
  hooks.Set("RST_HOOK_SEND_RESET", Napi::Number::New(env, RST_HOOK_SEND_RESET));
  hooks.Set("RST_HOOK_RECEIVE_RESET", Napi::Number::New(env, RST_HOOK_RECEIVE_RESET));
  hooks.Set("RST_HOOK_SET_STATE", Napi::Number::New(env, RST_HOOK_SET_STATE));
  o.Set("hooks", hooks);
  return o;
}

// CLOCK_REALTIME - CLOCK_BOOTTIME in ns: records carry boot time, people want wall time.
Napi::Value ClockOffsetNs(const Napi::CallbackInfo& info) {
  struct timespec rt, bt;
  clock_gettime(CLOCK_BOOTTIME, &bt);
  clock_gettime(CLOCK_REALTIME, &rt);
  int64_t off = (int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec - ((int64_t)bt.tv_sec * 1000000000LL + bt.tv_nsec);
  return Napi::BigInt::New(info.Env(), static_cast<int64_t>(off));
}

Napi::Value BootTimeNs(const Napi::CallbackInfo& info) {
  struct timespec bt;
  clock_gettime(CLOCK_BOOTTIME, &bt);
  return Napi::BigInt::New(info.Env(), static_cast<int64_t>(bt.tv_sec * 1000000000LL + bt.tv_nsec));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  LibbpfLog::Install();
  exports.Set("Tracer", Tracer::Init(env));
  exports.Set("layout", Napi::Function::New(env, Layout));
  exports.Set("clockOffsetNs", Napi::Function::New(env, ClockOffsetNs));
  exports.Set("bootTimeNs", Napi::Function::New(env, BootTimeNs));
  exports.Set("btfEnum", Napi::Function::New(env, BtfEnum));
  exports.Set("btfHasType", Napi::Function::New(env, BtfHasType));
  exports.Set("probeHooks", Napi::Function::New(env, ProbeHooks));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
  return exports;
}

}  // namespace

NODE_API_MODULE(rstrace, Init)
