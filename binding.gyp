{
  "targets": [
    {
      "target_name": "aofkit",
      "sources": [
        "src/native/addon.cc",
        "src/native/errno_error.cc",
        "src/native/env_state.cc",
        "src/native/async_call.cc",
        "src/native/fault_guard.cc",
        "src/native/mapping.cc",
        "src/native/file.cc",
        "src/native/futex.cc",
        "src/native/watch.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: an error raised while a worker is being terminated
      # cannot be thrown into JavaScript; without it node-addon-api throws it on as a C++
      # exception out of the call, and the whole process aborts.
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
