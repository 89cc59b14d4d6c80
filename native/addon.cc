// Module init: the Tracer class plus a few stateless helpers that need C:
// the record layout as C++ sees it (a cross-check for the decoder's test), the boot-to-wall clock offset,
// BTF look-ups and hook probes (for `doctor` and kernel variance).
#include <napi.h>
#include <stddef.h>
#include <time.h>

#include <linux/types.h>

#include "errors.h"
#include "netns.h"
#include "probe.h"
#include "rstrace.h"
#include "tracer.h"

namespace {

// The record as the C++ compiler lays it out from the shared header: a
// cross-check of src/kernel/layout.generated.ts, which is generated from the
// BPF compiler's view (BTF). The header's static asserts pin both compilers to
// the same offsets; this lets a test confirm it from JavaScript.
Napi::Value Layout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Object off = Napi::Object::New(env);
#define OFF(f) off.Set(#f, Napi::Number::New(env, offsetof(struct rst_record, f)))
  OFF(ts_ns); OFF(cookie); OFF(cgroup_id); OFF(ino); OFF(laddr); OFF(raddr); OFF(netns);
  OFF(reason); OFF(owner_pid); OFF(owner_tid); OFF(ctx_pid); OFF(ctx_tid); OFF(unread);
  OFF(unsent); OFF(lport); OFF(rport); OFF(family); OFF(kind); OFF(state); OFF(prev_state);
  OFF(tcp_flags); OFF(sk_err); OFF(probes); OFF(flags); OFF(hook); OFF(old_state); OFF(syscall);
  OFF(_pad); OFF(owner_comm); OFF(ctx_comm); OFF(seq); OFF(ack_seq); OFF(rcv_nxt); OFF(rcv_wnd);
#undef OFF
  o.Set("size", Napi::Number::New(env, sizeof(struct rst_record)));
  o.Set("offsets", off);
  o.Set("commLen", Napi::Number::New(env, RST_COMM_LEN));
  o.Set("reasonNone", Napi::Number::New(env, static_cast<double>(RST_REASON_NONE)));
  o.Set("counterMax", Napi::Number::New(env, RST_CNT_MAX));
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
  exports.Set("netnsFile", Napi::Function::New(env, NetnsFile));
  return exports;
}

}  // namespace

NODE_API_MODULE(rstrace, Init)
