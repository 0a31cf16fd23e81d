{
  "targets": [{
    "target_name": "dprep_native",
    "sources": ["dprep_native.c"],
    "cflags": ["<!@(pkg-config --cflags openblas)"],
    "cflags_c": ["-O3", "-std=c11", "-ffp-contract=off", "-fno-fast-math"],
    "libraries": ["<!@(pkg-config --libs openblas)", "-lm"]
  }]
}
