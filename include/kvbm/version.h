/* kvbm/version.h - compile-time version. While 0.x: same MINOR => ABI compatible. */
#ifndef KVBM_VERSION_H
#define KVBM_VERSION_H
#define KVBM_VERSION_MAJOR  0
#define KVBM_VERSION_MINOR  1
#define KVBM_VERSION_PATCH  0
#define KVBM_VERSION_NUMBER (KVBM_VERSION_MAJOR * 10000 + KVBM_VERSION_MINOR * 100 + KVBM_VERSION_PATCH)
#define KVBM_VERSION_STRING "0.1.0"
#endif
