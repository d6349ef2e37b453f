/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-error.h"

G_DEFINE_QUARK(pal-error-quark, pal_error)
