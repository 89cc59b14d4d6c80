#include "probe.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>

#include <string>
#include <vector>

#include "errors.h"
#include "rstrace.skel.h"

namespace {

struct btf* VmlinuxBtf() {
  static struct btf* cached = nullptr;
  if (!cached) cached = btf__load_vmlinux_btf();
  return cached && !libbpf_get_error(cached) ? cached : nullptr;
}

}  // namespace

Napi::Value BtfEnum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct btf* btf = VmlinuxBtf();
  if (!btf || info.Length() < 1) return env.Null();
  std::string name = info[0].ToString().Utf8Value();
  int id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_ENUM);
  if (id < 0) return env.Null();
  const struct btf_type* t = btf__type_by_id(btf, id);
  const struct btf_enum* e = btf_enum(t);
  Napi::Array out = Napi::Array::New(env);
  for (int i = 0; i < btf_vlen(t); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, btf__name_by_offset(btf, e[i].name_off));
    pair.Set(1u, Napi::Number::New(env, e[i].val));
    out.Set(i, pair);
  }
  return out;
}

Napi::Value BtfHasType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct btf* btf = VmlinuxBtf();
  if (!btf || info.Length() < 1) return Napi::Boolean::New(env, false);
  std::string name = info[0].ToString().Utf8Value();
  return Napi::Boolean::New(env, btf__find_by_name(btf, name.c_str()) >= 0);
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

// Load and attach each program on its own, so that one missing hook is
// named rather than failing the whole object.
Napi::Value ProbeHooks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  std::vector<std::string> names;
  {
    rstrace_bpf* skel = rstrace_bpf__open();
    if (!skel) {
      ThrowLibbpf(env, "opening the BPF object", errno, "");
      return env.Undefined();
    }
    struct bpf_program* p;
    bpf_object__for_each_program(p, skel->obj) names.push_back(bpf_program__name(p));
    rstrace_bpf__destroy(skel);
  }
  uint32_t idx = 0;
  for (const std::string& name : names) {
    LibbpfLog log;
    Napi::Object r = Napi::Object::New(env);
    r.Set("name", name);
    rstrace_bpf* skel = rstrace_bpf__open();
    if (!skel) {
      r.Set("ok", Napi::Boolean::New(env, false));
      r.Set("errno", Napi::Number::New(env, errno));
      r.Set("error", std::string("open: ") + strerror(errno));
      out.Set(idx++, r);
      continue;
    }
    struct bpf_program* p;
    bpf_object__for_each_program(p, skel->obj) {
      bpf_program__set_autoload(p, name == bpf_program__name(p));
      if (name == bpf_program__name(p)) r.Set("section", bpf_program__section_name(p));
    }
    int err = rstrace_bpf__load(skel);
    std::string stage = "load";
    if (!err) {
      struct bpf_program* prog = bpf_object__find_program_by_name(skel->obj, name.c_str());
      struct bpf_link* link = bpf_program__attach(prog);
      if (!link) {
        err = -errno;
        stage = "attach";
      } else {
        bpf_link__destroy(link);
      }
    }
    r.Set("ok", Napi::Boolean::New(env, err == 0));
    if (err) {
      int e = err < 0 ? -err : err;
      r.Set("errno", Napi::Number::New(env, e));
      r.Set("error", stage + ": " + strerror(e));
      r.Set("details", log.Text());
    }
    rstrace_bpf__destroy(skel);
    out.Set(idx++, r);
  }
  return out;
}
