/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-flow.h"
#include "pal-handover.h"
#include "pal-nlu.h"
#include "pal-plugin.h"
#include "pal-transformer.h"

/**
 * pal_plugin_kind_to_string:
 *
 * Returns: `flow`, `nlu`, `transformer` or `handover`
 */
const gchar *
pal_plugin_kind_to_string(PalPluginKind kind)
{
	switch (kind) {
	case PAL_PLUGIN_KIND_FLOW:
		return "flow";
	case PAL_PLUGIN_KIND_NLU:
		return "nlu";
	case PAL_PLUGIN_KIND_TRANSFORMER:
		return "transformer";
	case PAL_PLUGIN_KIND_HANDOVER:
		return "handover";
	default:
		return "unknown";
	}
}

/**
 * pal_plugin_kind_get_interface:
 *
 * Returns: the interface GType of @kind
 */
GType
pal_plugin_kind_get_interface(PalPluginKind kind)
{
	switch (kind) {
	case PAL_PLUGIN_KIND_FLOW:
		return PAL_TYPE_FLOW;
	case PAL_PLUGIN_KIND_NLU:
		return PAL_TYPE_NLU;
	case PAL_PLUGIN_KIND_TRANSFORMER:
		return PAL_TYPE_TRANSFORMER;
	case PAL_PLUGIN_KIND_HANDOVER:
		return PAL_TYPE_HANDOVER;
	default:
		return G_TYPE_INVALID;
	}
}
