#include "rados_ioctx.h"
namespace cephrbd {
void AddObjectMethods(IoCtx::Props&) {}
}  // namespace cephrbd
