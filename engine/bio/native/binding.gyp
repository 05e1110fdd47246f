{
  "targets": [
    {
      "target_name": "fallocate",
      "sources": ["fallocate.c"],
      "cflags": ["-std=c99", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
