{
  "targets": [
    {
      "target_name": "rstrace",
      "sources": ["addon.cc", "tracer.cc", "errors.cc", "probe.cc", "netns.cc"],
      "include_dirs": [
        "<!@(node -p \"require('node-addon-api').include\")",
        "../bpf",
        "../build"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall"],
      "libraries": ["<!@(pkg-config --libs libbpf)"]
    }
  ]
}
