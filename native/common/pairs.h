// Lists of string pairs (metadata, config, peer attributes, mon command
// answers) cross to JS as [[key, value], ...]: one conversion for all.
#pragma once
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

namespace cephrbd {

using StringPairs = std::vector<std::pair<std::string, std::string>>;

inline Napi::Value StringPairsToArray(Napi::Env env, const StringPairs& pairs) {
  Napi::Array arr = Napi::Array::New(env, pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    Napi::Array kv = Napi::Array::New(env, 2);
    kv.Set(0u, pairs[i].first);
    kv.Set(1u, pairs[i].second);
    arr.Set(static_cast<uint32_t>(i), kv);
  }
  return arr;
}

}  // namespace cephrbd
