/*
 * fallocate: reserve a file's blocks ahead of its writes (Linux fallocate(2) with
 * FALLOC_FL_KEEP_SIZE: the blocks are allocated, the file's size is unchanged). Node has no API
 * for it; a data file (engine/bio) reserves the space its next writes will fill, so that a
 * buffered write does not pay the file system's block allocation page by page. One function:
 *
 *   allocate(fd: number, offset: number, length: number) -> number
 *
 * Returns 0, or the errno of the failed call (ENOSPC, EOPNOTSUPP, EBADF, ...): reserving ahead is
 * an optimisation, so the caller decides what a failure means rather than catching an exception.
 * On other systems it returns ENOSYS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <node_api.h>

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "fallocate: N-API call failed");    \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value allocate(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "EINVAL", "allocate(fd, offset, length): three numbers are required");
    return NULL;
  }
  int32_t fd;
  int64_t offset, length;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int64(env, argv[1], &offset) != napi_ok ||
      napi_get_value_int64(env, argv[2], &length) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "allocate(fd, offset, length): arguments must be numbers");
    return NULL;
  }
  int err = 0;
#ifdef __linux__
  if (fd < 0 || offset < 0 || length <= 0) err = EINVAL;
  else {
    int rc;
    do rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) err = errno;
  }
#else
  (void)fd;
  (void)offset;
  (void)length;
  err = ENOSYS;
#endif
  napi_value result;
  CHECK(napi_create_int32(env, err, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "allocate", NAPI_AUTO_LENGTH, allocate, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "allocate", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
