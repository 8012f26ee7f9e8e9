#include "rbd_image.h"
namespace cephrbd {
void Image::AddCloneMethods(Props&) {}
}  // namespace cephrbd
