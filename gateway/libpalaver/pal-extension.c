/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-extension.h"

G_DEFINE_INTERFACE(PalExtension, pal_extension, G_TYPE_OBJECT)

static void
pal_extension_default_init(PalExtensionInterface *iface)
{
}

/**
 * pal_extension_setup:
 * @endpoint: the endpoint the instance serves
 * @options: the plugin's options object from the endpoint configuration
 *
 * Returns: %TRUE when the instance accepted @options
 */
gboolean
pal_extension_setup(PalExtension *self,
		    PalEndpointInfo *endpoint,
		    JsonObject *options,
		    GError **error)
{
	PalExtensionInterface *iface;

	g_return_val_if_fail(PAL_IS_EXTENSION(self), FALSE);
	g_return_val_if_fail(PAL_IS_ENDPOINT_INFO(endpoint), FALSE);
	g_return_val_if_fail(options != NULL, FALSE);

	iface = PAL_EXTENSION_GET_IFACE(self);
	if (iface->setup == NULL)
		return TRUE;
	return iface->setup(self, endpoint, options, error);
}
