#include "rbd_image.h"
namespace cephrbd {
void Image::AddMetaMethods(Props&) {}
}  // namespace cephrbd
