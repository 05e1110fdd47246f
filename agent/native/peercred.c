/*
 * peercred: the credentials of the process at the other end of a connected Unix socket, from the
 * kernel (getsockopt SOL_SOCKET SO_PEERCRED, Linux). Node has no API for it; daos_agent needs it
 * to know who is asking for a credential. One function:
 *
 *   peerCred(fd: number) -> { pid: number, uid: number, gid: number }
 *
 * Throws an Error with `code` (errno name, e.g. EBADF, ENOTSOCK, ENOPROTOOPT) when getsockopt
 * fails. The credentials are those the peer had when it called connect() (or socketpair()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <node_api.h>

static const char *errno_name(int err) {
  switch (err) {
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EINVAL: return "EINVAL";
    case ENOTCONN: return "ENOTCONN";
    default: return "EIO";
  }
}

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "peercred: N-API call failed");     \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value set_int(napi_env env, napi_value obj, const char *name, double value) {
  napi_value v;
  CHECK(napi_create_double(env, value, &v));
  CHECK(napi_set_named_property(env, obj, name, v));
  return obj;
}

static napi_value peer_cred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, "EINVAL", "peerCred(fd): fd is required");
    return NULL;
  }
  napi_valuetype type;
  CHECK(napi_typeof(env, argv[0], &type));
  if (type != napi_number) {
    napi_throw_type_error(env, "EINVAL", "peerCred(fd): fd must be a number");
    return NULL;
  }
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  if (fd < 0) {
    napi_throw_range_error(env, "EBADF", "peerCred(fd): fd must be a non-negative integer");
    return NULL;
  }
  struct ucred cred;
  socklen_t len = sizeof(cred);
  memset(&cred, 0, sizeof(cred));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
    int err = errno;
    char message[128];
    snprintf(message, sizeof(message), "getsockopt(SO_PEERCRED) on fd %d: %s", fd, strerror(err));
    napi_throw_error(env, errno_name(err), message);
    return NULL;
  }
  napi_value result;
  CHECK(napi_create_object(env, &result));
  if (set_int(env, result, "pid", (double)cred.pid) == NULL) return NULL;
  if (set_int(env, result, "uid", (double)cred.uid) == NULL) return NULL;
  if (set_int(env, result, "gid", (double)cred.gid) == NULL) return NULL;
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "peerCred", NAPI_AUTO_LENGTH, peer_cred, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "peerCred", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
