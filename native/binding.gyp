{
  "targets": [{
    "target_name": "dprep_native",
    "sources": ["dprep_native.c"],
    "cflags": ["<!@(pkg-config --cflags openblas)"],
    "cflags_c": ["-O3", "-std=c11", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno"],
    "conditions": [["target_arch=='x64'", {"cflags_c": ["-march=x86-64-v2"]}]],
    "libraries": ["<!@(pkg-config --libs openblas)", "-lm", "-lpthread"]
  }]
}
