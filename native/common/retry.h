// The one grow-and-retry helper for calls that answer -ERANGE with the size
// they need, plus the decoder for librados/librbd "a\0b\0\0" name lists.
#pragma once
#include <cerrno>
#include <cstddef>
#include <string>
#include <vector>

namespace cephrbd {

// fn(T* data, size_t* len) -> rc; on -ERANGE it may update *len to the size
// it wants. Returns the last rc; `buf` is left sized to what was passed.
template <typename T, typename Fn>
int GrowAndRetry(std::vector<T>& buf, size_t initial, Fn fn) {
  size_t len = initial == 0 ? 1 : initial;
  for (int attempt = 0; attempt < 32; ++attempt) {
    buf.resize(len);
    size_t asked = len;
    int rc = fn(buf.data(), &len);
    if (rc != -ERANGE) return rc;
    if (len <= asked) len = asked * 2;  // the call did not say how much: double
  }
  return -ERANGE;
}

// Splits "a\0b\0\0" (or a buffer of `len` bytes) into names.
inline std::vector<std::string> SplitNulList(const char* data, size_t len) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < len && data[i] != '\0') {
    std::string name(data + i);
    i += name.size() + 1;
    out.push_back(std::move(name));
  }
  return out;
}

}  // namespace cephrbd
