/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test plugin `abi99`: built for a future plugin ABI 99.0, so it must be refused before
 * anything but the two ABI fields of its descriptor is read */
#include "config.h"

#include <palaver.h>

G_MODULE_EXPORT const PalPluginDesc *
pal_plugin_abi99_get_desc(void);

const PalPluginDesc *
pal_plugin_abi99_get_desc(void)
{
	/* a future layout could put anything after the ABI fields: these must not be used */
	static const PalPluginDesc desc = {99, 0, NULL, NULL, NULL, NULL, NULL, {NULL}};
	return &desc;
}
