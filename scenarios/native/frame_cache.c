// A native addon with a frame cache, for leaktrail's native-memory tests (see README.md).
//
// `decode(id, bytes, keep)` "decodes" a frame into `bytes` of malloc'd memory, touches
// every page (as a real decoder writes its pixels) and, when `keep` is true, files it in
// a cache that nothing ever evicts: the bug of an image or codec addon whose cache has no
// bound. The JavaScript heap holds nothing of it: only the process's resident memory
// shows the growth. Built by the test with the machine's C compiler against Node's own
// headers (node_api.h), no node-gyp; README.md has the command.
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

struct frame {
  struct frame *next;
  int64_t id;
  char *pixels;
};

static struct frame *cache = NULL;

static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int64_t id = 0, bytes = 0;
  bool keep = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_int64(env, argv[0], &id) != napi_ok ||
      napi_get_value_int64(env, argv[1], &bytes) != napi_ok ||
      napi_get_value_bool(env, argv[2], &keep) != napi_ok || bytes <= 0) {
    napi_throw_type_error(env, NULL, "decode(id, bytes > 0, keep)");
    return NULL;
  }
  char *pixels = malloc((size_t)bytes);
  if (pixels == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  memset(pixels, (int)(id & 0xff), (size_t)bytes);
  int64_t checksum = pixels[bytes - 1];
  if (keep) {
    struct frame *f = malloc(sizeof *f);
    if (f != NULL) {
      f->next = cache;
      f->id = id;
      f->pixels = pixels;
      cache = f;
    }
  } else {
    free(pixels);
  }
  napi_value out;
  napi_create_int64(env, checksum, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "decode", NAPI_AUTO_LENGTH, decode, NULL, &fn);
  napi_set_named_property(env, exports, "decode", fn);
  return exports;
}
