/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-session.h"

struct _PalSession {
	GObject parent_instance;
	gchar *endpoint_name;
	gchar *user_id;
	gchar *session_id;
	JsonObject *context;
	JsonObject *profile;
	gchar *entrypoint;
	gboolean handover_active;
	guint64 turns;
	gint64 created_at;
	gint64 updated_at;
};

G_DEFINE_FINAL_TYPE(PalSession, pal_session, G_TYPE_OBJECT)

static void
pal_session_finalize(GObject *object)
{
	PalSession *self = PAL_SESSION(object);

	g_free(self->endpoint_name);
	g_free(self->user_id);
	g_free(self->session_id);
	json_object_unref(self->context);
	json_object_unref(self->profile);
	g_free(self->entrypoint);
	G_OBJECT_CLASS(pal_session_parent_class)->finalize(object);
}

static void
pal_session_class_init(PalSessionClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_session_finalize;
}

static void
pal_session_init(PalSession *self)
{
	self->context = json_object_new();
	self->profile = json_object_new();
	self->created_at = g_get_real_time();
	self->updated_at = self->created_at;
}

/**
 * pal_session_new:
 *
 * Returns: (transfer full): a fresh session with an empty context and profile
 */
PalSession *
pal_session_new(const gchar *endpoint_name, const gchar *user_id, const gchar *session_id)
{
	PalSession *self = g_object_new(PAL_TYPE_SESSION, NULL);

	self->endpoint_name = g_strdup(endpoint_name);
	self->user_id = g_strdup(user_id);
	self->session_id = g_strdup(session_id);
	return self;
}

const gchar *
pal_session_get_endpoint_name(PalSession *self)
{
	g_return_val_if_fail(PAL_IS_SESSION(self), NULL);
	return self->endpoint_name;
}

const gchar *
pal_session_get_user_id(PalSession *self)
{
	g_return_val_if_fail(PAL_IS_SESSION(self), NULL);
	return self->user_id;
}

const gchar *
pal_session_get_session_id(PalSession *self)
{
	g_return_val_if_fail(PAL_IS_SESSION(self), NULL);
	return self->session_id;
}

/**
 * pal_session_get_context:
 *
 * Returns: (transfer none): the session context; a flow may change it in place
 */
JsonObject *
pal_session_get_context(PalSession *self)
{
	g_return_val_if_fail(PAL_IS_SESSION(self), NULL);
	return self->context;
}

/**
 * pal_session_set_context:
 * @context: the new context; a reference is taken
 */
void
pal_session_set_context(PalSession *self, JsonObject *context)
{
	g_return_if_fail(PAL_IS_SESSION(self));
	g_return_if_fail(context != NULL);
	json_object_ref(context);
	json_object_unref(self->context);
	self->context = context;
}

/**
 * pal_session_get_profile:
 *
 * Returns: (transfer none): the contact profile of the session's user
 */
JsonObject *
pal_session_get_profile(PalSession *self)
{
	g_return_val_if_fail(PAL_IS_SESSION(self), NULL);
	return self->profile;
}

void
pal_session_set_profile(PalSession *self, JsonObject *profile)
{
	g_return_if_fail(PAL_IS_SESSION(self));
	g_return_if_fail(profile != NULL);
	json_object_ref(profile);
	json_object_unref(self->profile);
	self->profile = profile;
}

/**
 * pal_session_get_entrypoint:
 *
 * Returns: (nullable): where the flow continues with the next input; %NULL means its start
 */
const gchar *
pal_session_get_entrypoint(PalSession *self)
{
	g_return_val_if_fail(PAL_IS_SESSION(self), NULL);
	return self->entrypoint;
}

void
pal_session_set_entrypoint(PalSession *self, const gchar *entrypoint)
{
	g_return_if_fail(PAL_IS_SESSION(self));
	g_free(self->entrypoint);
	self->entrypoint = g_strdup(entrypoint);
}

gboolean
pal_session_get_handover_active(PalSession *self)
{
	g_return_val_if_fail(PAL_IS_SESSION(self), FALSE);
	return self->handover_active;
}

void
pal_session_set_handover_active(PalSession *self, gboolean active)
{
	g_return_if_fail(PAL_IS_SESSION(self));
	self->handover_active = active;
}

/**
 * pal_session_get_turns:
 *
 * Returns: how many turns the session has run
 */
guint64
pal_session_get_turns(PalSession *self)
{
	g_return_val_if_fail(PAL_IS_SESSION(self), 0);
	return self->turns;
}

void
pal_session_add_turn(PalSession *self)
{
	g_return_if_fail(PAL_IS_SESSION(self));
	self->turns++;
}

gint64
pal_session_get_created_at(PalSession *self)
{
	g_return_val_if_fail(PAL_IS_SESSION(self), 0);
	return self->created_at;
}

gint64
pal_session_get_updated_at(PalSession *self)
{
	g_return_val_if_fail(PAL_IS_SESSION(self), 0);
	return self->updated_at;
}

void
pal_session_touch(PalSession *self, gint64 now_us)
{
	g_return_if_fail(PAL_IS_SESSION(self));
	self->updated_at = now_us;
}
