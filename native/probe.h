// Stateless kernel look-ups for `doctor` and for kernel variance.
#pragma once

#include <napi.h>

// btfEnum(name) -> [[NAME, value], ...] from the running kernel's BTF, or null.
Napi::Value BtfEnum(const Napi::CallbackInfo& info);
// btfHasType(name) -> whether vmlinux BTF has a type of that name.
Napi::Value BtfHasType(const Napi::CallbackInfo& info);
// probeHooks() -> [{name, section, ok, error}] loading and attaching each program alone.
Napi::Value ProbeHooks(const Napi::CallbackInfo& info);
Napi::Value LibbpfVersion(const Napi::CallbackInfo& info);
