#include "rbd_admin.h"
namespace cephrbd {
void AddTrashAndCloneFunctions(Napi::Env, Napi::Object) {}
}  // namespace cephrbd
