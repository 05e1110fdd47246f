{
  "targets": [
    {
      "target_name": "peercred",
      "sources": ["peercred.c"],
      "cflags": ["-std=c99", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
