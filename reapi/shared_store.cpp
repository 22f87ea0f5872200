#include "reapi/shared_store.h"
