/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PAL_ERROR (pal_error_quark ())

/**
 * PalError:
 * @PAL_ERROR_FAILED: generic failure
 * @PAL_ERROR_INVALID_DATA: input (request, config file, flow, model) is malformed
 * @PAL_ERROR_NOT_FOUND: the named object does not exist
 * @PAL_ERROR_EXISTS: an object with that name or token exists already
 * @PAL_ERROR_TIMED_OUT: a deadline passed
 * @PAL_ERROR_PLUGIN: a plugin could not be loaded or refused its options
 * @PAL_ERROR_BUSY: a limit was reached, try again later
 * @PAL_ERROR_NOT_SUPPORTED: the operation is not supported by this plugin or backend
 * @PAL_ERROR_PERMISSION_DENIED: the caller is not allowed to do this
 * @PAL_ERROR_UNAVAILABLE: a dependency (store, upstream) is not available right now
 *
 * Errors of libpalaver, the daemon and its plugins.
 */
typedef enum {
	PAL_ERROR_FAILED,
	PAL_ERROR_INVALID_DATA,
	PAL_ERROR_NOT_FOUND,
	PAL_ERROR_EXISTS,
	PAL_ERROR_TIMED_OUT,
	PAL_ERROR_PLUGIN,
	PAL_ERROR_BUSY,
	PAL_ERROR_NOT_SUPPORTED,
	PAL_ERROR_PERMISSION_DENIED,
	PAL_ERROR_UNAVAILABLE,
	/*< private >*/
	PAL_ERROR_LAST
} PalError;

GQuark
pal_error_quark(void);

G_END_DECLS
