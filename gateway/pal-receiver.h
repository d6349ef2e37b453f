/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS
/* owned by the palaver-tool receive helper: see issue #2 item 9 */
G_END_DECLS
