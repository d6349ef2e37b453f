/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "pal-delivery.h"

#define PAL_DELIVERY_MAX_RESPONSE    (64 * 1024)

PalDeliveryItem *
pal_delivery_item_new(PalEndpoint *endpoint,
		      const gchar *session_key,
		      const gchar *turn_id,
		      guint turn_index,
		      guint64 session_seq,
		      GBytes *body)
{
	PalDeliveryItem *item = g_new0(PalDeliveryItem, 1);

	item->ref_count = 1;
	item->endpoint = g_object_ref(endpoint);
	item->session_key = g_strdup(session_key);
	item->turn_id = g_strdup(turn_id);
	item->turn_index = turn_index;
	item->session_seq = session_seq;
	item->body = g_bytes_ref(body);
	item->created_at = g_get_real_time();
	item->expires_at =
	    item->created_at + (gint64)pal_endpoint_get_webhook_ttl_seconds(endpoint) * G_USEC_PER_SEC;
	/* Standard Webhooks ids: stable per output, so receivers can deduplicate retries */
	item->webhook_id = pal_delivery_webhook_id(turn_id, turn_index);
	return item;
}

PalDeliveryItem *
pal_delivery_item_new_from_row(PalEndpoint *endpoint, const PalStoreOutboxRow *row)
{
	PalDeliveryItem *item = g_new0(PalDeliveryItem, 1);

	item->ref_count = 1;
	item->endpoint = g_object_ref(endpoint);
	item->outbox_id = row->id;
	item->session_key = g_strdup(row->session_key);
	item->webhook_id = g_strdup(row->webhook_id);
	item->turn_id = g_strdup(row->turn_id);
	item->turn_index = row->turn_index;
	item->session_seq = row->session_seq;
	item->body = g_bytes_ref(row->body);
	item->created_at = row->created_at;
	item->expires_at = row->expires_at;
	item->attempts = row->attempts;
	item->next_attempt_at = row->next_attempt_at;
	return item;
}

/* "msg_<turn id with _ for ->_<index>": the same for every attempt, and across restarts */
gchar *
pal_delivery_webhook_id(const gchar *turn_id, guint turn_index)
{
	g_autofree gchar *compact = g_strdup(turn_id);

	g_strdelimit(compact, "-", '_');
	return g_strdup_printf("msg_%s_%u", compact, turn_index);
}

PalDeliveryItem *
pal_delivery_item_ref(PalDeliveryItem *item)
{
	g_atomic_int_inc(&item->ref_count);
	return item;
}

void
pal_delivery_item_unref(PalDeliveryItem *item)
{
	if (!g_atomic_int_dec_and_test(&item->ref_count))
		return;
	g_object_unref(item->endpoint);
	g_free(item->session_key);
	g_free(item->webhook_id);
	g_free(item->turn_id);
	g_bytes_unref(item->body);
	g_free(item);
}

GBytes *
pal_delivery_build_body(const gchar *user_id,
			const gchar *session_id,
			const gchar *text,
			JsonObject *data,
			const gchar *trace_id,
			gboolean disable_sensitive_logging,
			const gchar *source)
{
	g_autoptr(JsonBuilder) b = json_builder_new_immutable();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	gsize len = 0;
	gchar *out;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "userId");
	json_builder_add_string_value(b, user_id);
	json_builder_set_member_name(b, "sessionId");
	json_builder_add_string_value(b, session_id);
	json_builder_set_member_name(b, "AIOutput");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "text");
	if (text != NULL)
		json_builder_add_string_value(b, text);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "data");
	if (data != NULL) {
		JsonNode *n = json_node_new(JSON_NODE_OBJECT);
		json_node_set_object(n, data);
		json_builder_add_value(b, n);
	} else {
		json_builder_begin_object(b);
		json_builder_end_object(b);
	}
	json_builder_set_member_name(b, "traceId");
	json_builder_add_string_value(b, trace_id);
	json_builder_set_member_name(b, "disableSensitiveLogging");
	json_builder_add_boolean_value(b, disable_sensitive_logging);
	json_builder_set_member_name(b, "source");
	json_builder_add_string_value(b, source);
	json_builder_end_object(b);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	out = json_generator_to_data(gen, &len);
	return g_bytes_new_take(out, len);
}

gchar *
pal_delivery_sign(GStrv secrets, const gchar *webhook_id, gint64 timestamp, GBytes *body)
{
	g_autoptr(GString) sigs = g_string_new(NULL);
	g_autofree gchar *prefix = g_strdup_printf("%s.%" G_GINT64_FORMAT ".", webhook_id, timestamp);

	if (secrets == NULL || secrets[0] == NULL)
		return NULL;
	for (guint i = 0; secrets[i] != NULL; i++) {
		const gchar *raw = g_str_has_prefix(secrets[i], "whsec_") ? secrets[i] + 6 : secrets[i];
		/* Standard Webhooks libraries accept secrets without base64 padding */
		g_autofree gchar *b64 = g_strnfill(strlen(raw) + (4 - strlen(raw) % 4) % 4, '=');
		g_autofree guchar *key = NULL;
		gsize key_len = 0;
		g_autoptr(GHmac) hmac = NULL;
		guint8 digest[32];
		gsize digest_len = sizeof(digest);
		g_autofree gchar *sig = NULL;
		gsize body_len = 0;
		const guint8 *body_data = g_bytes_get_data(body, &body_len);

		memcpy(b64, raw, strlen(raw));
		key = g_base64_decode(b64, &key_len);
		hmac = g_hmac_new(G_CHECKSUM_SHA256, key, key_len);
		g_hmac_update(hmac, (const guchar *)prefix, -1);
		g_hmac_update(hmac, body_data, body_len);
		g_hmac_get_digest(hmac, digest, &digest_len);
		memset(key, 0, key_len); /* secrets do not linger in freed memory */
		sig = g_base64_encode(digest, digest_len);
		if (sigs->len > 0)
			g_string_append_c(sigs, ' ');
		g_string_append_printf(sigs, "v1,%s", sig);
	}
	return g_string_free(g_steal_pointer(&sigs), FALSE);
}

struct _PalHostPauses {
	gint ref_count;
	GMutex lock;
	GHashTable *until; /* host key → gint64* monotonic µs */
};

PalHostPauses *
pal_host_pauses_new(void)
{
	PalHostPauses *pauses = g_new0(PalHostPauses, 1);

	pauses->ref_count = 1;
	g_mutex_init(&pauses->lock);
	pauses->until = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return pauses;
}

PalHostPauses *
pal_host_pauses_ref(PalHostPauses *pauses)
{
	g_atomic_int_inc(&pauses->ref_count);
	return pauses;
}

void
pal_host_pauses_unref(PalHostPauses *pauses)
{
	if (!g_atomic_int_dec_and_test(&pauses->ref_count))
		return;
	g_hash_table_unref(pauses->until);
	g_mutex_clear(&pauses->lock);
	g_free(pauses);
}

static gint64
pal_host_pauses_get(PalHostPauses *pauses, const gchar *key)
{
	gint64 *until;
	gint64 value = 0;

	if (pauses == NULL)
		return 0;
	g_mutex_lock(&pauses->lock);
	until = g_hash_table_lookup(pauses->until, key);
	if (until != NULL)
		value = *until;
	g_mutex_unlock(&pauses->lock);
	return value;
}

static void
pal_host_pauses_set(PalHostPauses *pauses, const gchar *key, gint64 until)
{
	gint64 *value;

	if (pauses == NULL)
		return;
	g_mutex_lock(&pauses->lock);
	value = g_hash_table_lookup(pauses->until, key);
	if (value == NULL) {
		value = g_new0(gint64, 1);
		g_hash_table_insert(pauses->until, g_strdup(key), value);
	}
	*value = MAX(*value, until);
	g_mutex_unlock(&pauses->lock);
}

typedef struct _PalHost PalHost;

typedef struct {
	PalDelivery *self; /* not a reference */
	gchar *key;
	GQueue items;  /* PalDeliveryItem*, head is the next to deliver */
	gboolean busy; /* head in flight, waiting for a connection or for its retry time */
	GSource *retry;
} PalSessionQueue;

struct _PalHost {
	PalDelivery *self; /* not a reference: hosts die with their PalDelivery */
	gchar *key;
	guint in_flight;
	GQueue waiting;	    /* PalSessionQueue* whose head is ready to send */
	gboolean starved;   /* in PalDelivery.starved: blocked by the total limit */
	gint64 paused_until; /* monotonic: the host asked for a pause (429/503 + Retry-After) */
	GSource *resume;
};

typedef struct {
	PalDelivery *self;
	PalSessionQueue *sq;
	PalHost *host;
	PalDeliveryItem *item;
} PalAttempt;

struct _PalDelivery {
	GObject parent_instance;
	GMainContext *context;
	PalWebhookClient *client;
	PalStore *store;	 /* nullable */
	PalBacklog *backlog;	 /* nullable, not a reference: the daemon's */
	PalHostPauses *pauses; /* nullable */
	PalStats *stats;       /* nullable */
	GHashTable *sessions; /* key → PalSessionQueue */
	GHashTable *hosts;    /* key → PalHost */
	GQueue starved;	      /* PalHost* with waiting sessions, blocked by max_conns */
	guint max_conns;
	guint max_conns_per_host;
	gint in_flight;	       /* atomic for readers */
	gint waiting;	       /* atomic: session heads ready to send, waiting for a connection */
	gint pending;	       /* atomic */
	gssize pending_bytes; /* atomic */
	guint64 n_delivered;
	guint64 n_failed;
	gboolean shut_down;
	/* outbox rows delivered and not yet deleted: one store op per batch, not per output */
	GArray *delivered_ids; /* gint64 */
	GSource *flush;
};

/* a delivered output's row is deleted at most this long after its 2xx (or once this many wait);
 * a crash in between sends it again, with the same webhook-id (at least once) */
#define PAL_DELIVERY_FLUSH_MS 10
#define PAL_DELIVERY_FLUSH_MAX 256

G_DEFINE_FINAL_TYPE(PalDelivery, pal_delivery, G_TYPE_OBJECT)

static void
pal_delivery_next(PalDelivery *self, PalSessionQueue *sq);
static gboolean
pal_delivery_retry_cb(gpointer data);

static void
pal_session_queue_free(PalSessionQueue *sq)
{
	if (sq->retry != NULL) {
		g_source_destroy(sq->retry);
		g_source_unref(sq->retry);
	}
	g_queue_clear_full(&sq->items, (GDestroyNotify)pal_delivery_item_unref);
	g_free(sq->key);
	g_free(sq);
}

static void
pal_host_free(PalHost *host)
{
	if (host->resume != NULL) {
		g_source_destroy(host->resume);
		g_source_unref(host->resume);
	}
	g_queue_clear(&host->waiting);
	g_free(host->key);
	g_free(host);
}

static PalHost *
pal_delivery_get_host(PalDelivery *self, const gchar *key)
{
	PalHost *host = g_hash_table_lookup(self->hosts, key);

	if (host == NULL) {
		host = g_new0(PalHost, 1);
		host->self = self;
		host->key = g_strdup(key);
		g_hash_table_insert(self->hosts, host->key, host);
	}
	return host;
}

static void
pal_attempt_free(PalAttempt *a)
{
	pal_delivery_item_unref(a->item);
	g_object_unref(a->self);
	g_free(a);
}

static void
pal_delivery_store_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	const gchar *what = user_data;
	gboolean ok;

	if (g_str_equal(what, "delivered"))
		ok = pal_store_outbox_delivered_finish(PAL_STORE(source), res, &error);
	else if (g_str_equal(what, "retry"))
		ok = pal_store_outbox_update_finish(PAL_STORE(source), res, &error);
	else
		ok = pal_store_outbox_dead_letter_finish(PAL_STORE(source), res, &error);
	/* the in-memory queue goes on; the store row is retried from at the next start (an
	 * output may then arrive twice, with the same webhook-id) */
	if (!ok)
		g_message("cannot record the %s output in the store: %s", what, error->message);
}

static void
pal_delivery_flush_delivered(PalDelivery *self)
{
	if (self->flush != NULL) {
		g_source_destroy(self->flush);
		g_clear_pointer(&self->flush, g_source_unref);
	}
	if (self->delivered_ids->len == 0)
		return;
	pal_store_outbox_delivered_async(self->store,
					 (const gint64 *)(gpointer)self->delivered_ids->data,
					 self->delivered_ids->len,
					 NULL,
					 pal_delivery_store_cb,
					 (gpointer) "delivered");
	g_array_set_size(self->delivered_ids, 0);
}

static gboolean
pal_delivery_flush_cb(gpointer data)
{
	PalDelivery *self = data;

	g_clear_pointer(&self->flush, g_source_unref);
	pal_delivery_flush_delivered(self);
	return G_SOURCE_REMOVE;
}

static void
pal_delivery_record_delivered(PalDelivery *self, gint64 outbox_id)
{
	g_array_append_val(self->delivered_ids, outbox_id);
	if (self->delivered_ids->len >= PAL_DELIVERY_FLUSH_MAX) {
		pal_delivery_flush_delivered(self);
		return;
	}
	if (self->flush == NULL) {
		self->flush = g_timeout_source_new(PAL_DELIVERY_FLUSH_MS);
		g_source_set_static_name(self->flush, "pal-delivery-flush");
		g_source_set_callback(self->flush, pal_delivery_flush_cb, self, NULL);
		g_source_attach(self->flush, self->context);
	}
}

/* an output leaves the queue: delivered, or given up (a dead letter) */
static void
pal_delivery_pop(PalDelivery *self, PalSessionQueue *sq)
{
	PalDeliveryItem *item = g_queue_pop_head(&sq->items);

	if (item != NULL) {
		if (self->backlog != NULL)
			pal_backlog_add(self->backlog,
					pal_endpoint_get_name(item->endpoint),
					item->session_key,
					-1);
		g_atomic_int_add(&self->pending, -1);
		(void)g_atomic_pointer_add(&self->pending_bytes, -(gssize)g_bytes_get_size(item->body));
		pal_delivery_item_unref(item);
	}
	sq->busy = FALSE;
}

static void
pal_delivery_dead_letter(PalDelivery *self, PalSessionQueue *sq, const gchar *reason, guint status)
{
	PalDeliveryItem *item = g_queue_peek_head(&sq->items);
	g_autoptr(PalEndpoint) item_endpoint = g_object_ref(item->endpoint);

	/* the last attempt is recorded first (operations apply in order): a dead letter keeps how
	 * many attempts were made */
	if (self->store != NULL && item->outbox_id > 0)
		pal_store_outbox_update_async(self->store,
					      item->outbox_id,
					      item->attempts,
					      item->next_attempt_at,
					      NULL,
					      pal_delivery_store_cb,
					      (gpointer) "retry");
	if (self->store != NULL && item->outbox_id > 0)
		pal_store_outbox_dead_letter_async(self->store,
						   item->outbox_id,
						   reason,
						   (gint)status,
						   NULL,
						   pal_delivery_store_cb,
						   (gpointer) "dead");

	g_message("delivery of %s (endpoint %s, session seq %" G_GUINT64_FORMAT
		  ") given up after %u attempt(s): %s",
		  item->webhook_id,
		  pal_endpoint_get_name(item->endpoint),
		  item->session_seq,
		  item->attempts,
		  reason);
	self->n_failed++;
	if (self->stats != NULL)
		pal_stats_dead_lettered(self->stats,
					pal_endpoint_get_name(item->endpoint),
					item->session_key,
					item->webhook_id,
					reason,
					(gint)status);
	pal_delivery_pop(self, sq);
	/* "onGiveUp": "drop": every output of the session waiting behind it now (of this and
	 * later turns already stored) is given up with it, so the receiver never gets a later
	 * output after a gap; outputs stored afterwards go on */
	if (pal_endpoint_get_drop_on_give_up(item_endpoint)) {
		while (!g_queue_is_empty(&sq->items)) {
			PalDeliveryItem *next = g_queue_peek_head(&sq->items);
			if (self->store != NULL && next->outbox_id > 0)
				pal_store_outbox_dead_letter_async(self->store,
								   next->outbox_id,
								   "an earlier output of the session was given up (onGiveUp: drop)",
								   0,
								   NULL,
								   pal_delivery_store_cb,
								   (gpointer) "dead");
			self->n_failed++;
			if (self->stats != NULL)
				pal_stats_dead_lettered(self->stats,
							pal_endpoint_get_name(next->endpoint),
							next->session_key,
							next->webhook_id,
							"an earlier output of the session was given up (onGiveUp: drop)",
							0);
			pal_delivery_pop(self, sq);
		}
	}
}

static void
pal_delivery_pump(PalDelivery *self, PalHost *host);

/* moves on: the session's head output is sent now or queued for a connection; heads that
 * cannot be delivered any more are given up first, in a loop (never by recursion) */
static void
pal_delivery_next(PalDelivery *self, PalSessionQueue *sq)
{
	PalDeliveryItem *item;
	const gchar *host_key = NULL;
	PalHost *host;

	for (;;) {
		const gchar *reason = NULL;

		item = g_queue_peek_head(&sq->items);
		if (item == NULL) {
			if (!sq->busy)
				g_hash_table_remove(self->sessions, sq->key);
			return;
		}
		if (sq->busy || self->shut_down)
			return;
		/* (the client's parse of the URL, cached: not one per output) */
		host_key = pal_webhook_client_lookup_host(self->client, pal_endpoint_get_webhook_url(item->endpoint));
		if (host_key == NULL)
			reason = "the endpoint has no usable webhook URL";
		else if (g_get_real_time() > item->expires_at)
			reason = "time to live passed before delivery";
		if (reason == NULL)
			break;
		pal_delivery_dead_letter(self, sq, reason, 0);
	}
	sq->busy = TRUE;
	/* an output resumed from the store may still have to wait for its retry time */
	if (item->next_attempt_at > g_get_real_time()) {
		sq->retry = g_timeout_source_new((guint)((item->next_attempt_at - g_get_real_time()) / 1000) + 1);
		g_source_set_callback(sq->retry, pal_delivery_retry_cb, sq, NULL);
		g_source_attach(sq->retry, self->context);
		return;
	}
	host = pal_delivery_get_host(self, host_key);
	g_queue_push_tail(&host->waiting, sq);
	g_atomic_int_inc(&self->waiting);
	pal_delivery_pump(self, host);
}

static gboolean
pal_delivery_retry_cb(gpointer data)
{
	PalSessionQueue *sq = data;

	g_source_unref(sq->retry);
	sq->retry = NULL;
	sq->busy = FALSE;
	pal_delivery_next(sq->self, sq);
	return G_SOURCE_REMOVE;
}

/* Retry-After: delta-seconds or an HTTP date; -1 when absent or unreadable */
static gint64
pal_delivery_parse_retry_after(const gchar *value)
{
	guint64 secs = 0;
	g_autoptr(GDateTime) date = NULL;

	if (value == NULL)
		return -1;
	/* a huge value is clamped (to a week), not ignored: the TTL then decides */
	if (g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, &secs, NULL))
		return (gint64)MIN(secs, (guint64)7 * 86400) * G_USEC_PER_SEC;
	date = soup_date_time_new_from_http_string(value);
	if (date != NULL) {
		gint64 delta = g_date_time_to_unix(date) * G_USEC_PER_SEC - g_get_real_time();
		return MAX(delta, 0);
	}
	return -1;
}

static void
pal_delivery_schedule_retry(PalDelivery *self,
			    PalSessionQueue *sq,
			    gint64 retry_after_us,
			    const gchar *reason,
			    guint status)
{
	PalDeliveryItem *item = g_queue_peek_head(&sq->items);
	guint shift = MIN(item->attempts - 1, 20u);
	gint64 ceiling = MIN((gint64)pal_endpoint_get_retry_initial_ms(item->endpoint) << shift,
			     (gint64)pal_endpoint_get_retry_max_ms(item->endpoint)) * 1000;
	/* exponential backoff with full jitter, but never earlier than the receiver asked */
	gint64 delay = g_random_int_range(0, (gint32)MIN(ceiling, G_MAXINT32 - 1) + 1);

	if (retry_after_us >= 0)
		delay = MAX(delay, retry_after_us);
	if (g_get_real_time() + delay > item->expires_at) {
		g_autofree gchar *why = g_strdup_printf("%s; time to live of %us would pass",
							reason,
							pal_endpoint_get_webhook_ttl_seconds(item->endpoint));
		pal_delivery_dead_letter(self, sq, why, status);
		pal_delivery_next(self, sq);
		return;
	}
	g_debug("delivery of %s failed (%s), retry %u in %" G_GINT64_FORMAT " ms",
		item->webhook_id,
		reason,
		item->attempts,
		delay / 1000);
	item->next_attempt_at = g_get_real_time() + delay;
	if (self->stats != NULL)
		pal_stats_retried(self->stats, pal_endpoint_get_name(item->endpoint));
	if (self->store != NULL && item->outbox_id > 0)
		pal_store_outbox_update_async(self->store,
					      item->outbox_id,
					      item->attempts,
					      item->next_attempt_at,
					      NULL,
					      pal_delivery_store_cb,
					      (gpointer) "retry");
	sq->retry = g_timeout_source_new((guint)(delay / 1000));
	g_source_set_callback(sq->retry, pal_delivery_retry_cb, sq, NULL);
	g_source_attach(sq->retry, self->context);
}

static void
pal_delivery_send(PalDelivery *self, PalSessionQueue *sq, PalHost *host);

static gboolean
pal_host_resume_cb(gpointer data)
{
	PalHost *host = data;

	g_source_unref(g_steal_pointer(&host->resume));
	pal_delivery_pump(host->self, host);
	return G_SOURCE_REMOVE;
}

/* a host that answered 429 or 503 with Retry-After gets no request from any session until
 * then, not only from the session whose request was refused */
static gboolean
pal_host_is_paused(PalHost *host)
{
	gint64 now = g_get_monotonic_time();

	host->paused_until = MAX(host->paused_until, pal_host_pauses_get(host->self->pauses, host->key));
	if (host->paused_until <= now)
		return FALSE;
	if (host->resume == NULL) {
		host->resume = g_timeout_source_new((guint)((host->paused_until - now) / 1000) + 1);
		g_source_set_callback(host->resume, pal_host_resume_cb, host, NULL);
		g_source_attach(host->resume, host->self->context);
	}
	return TRUE;
}

/* gives free connections to waiting sessions: this host first, then hosts that were starved
 * by the total limit */
static void
pal_delivery_pump(PalDelivery *self, PalHost *host)
{
	if (self->shut_down)
		return;
	if (!pal_host_is_paused(host)) {
		while (host->in_flight < self->max_conns_per_host &&
		       (guint)self->in_flight < self->max_conns && !g_queue_is_empty(&host->waiting))
			pal_delivery_send(self, g_queue_pop_head(&host->waiting), host);
		if (!g_queue_is_empty(&host->waiting) && host->in_flight < self->max_conns_per_host &&
		    !host->starved) {
			host->starved = TRUE;
			g_queue_push_tail(&self->starved, host);
		}
	}
	while ((guint)self->in_flight < self->max_conns && !g_queue_is_empty(&self->starved)) {
		PalHost *other = g_queue_pop_head(&self->starved);
		other->starved = FALSE;
		if (pal_host_is_paused(other))
			continue; /* its resume timer pumps it */
		while (other->in_flight < self->max_conns_per_host &&
		       (guint)self->in_flight < self->max_conns && !g_queue_is_empty(&other->waiting))
			pal_delivery_send(self, g_queue_pop_head(&other->waiting), other);
		if (!g_queue_is_empty(&other->waiting) &&
		    other->in_flight < self->max_conns_per_host) {
			other->starved = TRUE;
			g_queue_push_tail(&self->starved, other);
			break;
		}
	}
}

static void
pal_delivery_attempt_done(PalAttempt *a, guint status, gint64 retry_after, GError *error)
{
	PalDelivery *self = a->self;
	PalSessionQueue *sq = a->sq;
	PalHost *host = a->host;

	g_atomic_int_add(&self->in_flight, -1);
	/* after shutdown the queues are gone: only the attempt itself is left to free */
	if (self->shut_down)
		return;
	host->in_flight--;

	if (error == NULL && status >= 200 && status < 300) {
		PalDeliveryItem *done = g_queue_peek_head(&sq->items);

		if (self->store != NULL && done->outbox_id > 0)
			pal_delivery_record_delivered(self, done->outbox_id);
		self->n_delivered++;
		if (self->stats != NULL)
			pal_stats_delivered(self->stats,
					    pal_endpoint_get_name(done->endpoint),
					    g_get_real_time() - done->created_at);
		pal_delivery_pop(self, sq);
		pal_delivery_next(self, sq);
	} else if (error != NULL || status == 408 || status == 429 || status >= 500) {
		g_autofree gchar *reason =
		    error != NULL ? g_strdup(error->message) : g_strdup_printf("HTTP %u", status);

		if ((status == 429 || status == 503) && retry_after > 0) {
			host->paused_until = MAX(host->paused_until, g_get_monotonic_time() + retry_after);
			pal_host_pauses_set(self->pauses, host->key, host->paused_until);
		}
		pal_delivery_schedule_retry(self, sq, retry_after, reason, status);
	} else {
		g_autofree gchar *reason = g_strdup_printf("HTTP %u, not retried", status);
		pal_delivery_dead_letter(self, sq, reason, status);
		pal_delivery_next(self, sq);
	}
	pal_delivery_pump(self, host);
}

static void
pal_delivery_post_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalAttempt *a = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *retry_after = NULL;
	guint status = 0;

	if (!pal_webhook_client_post_finish(PAL_WEBHOOK_CLIENT(source), res, &status, &retry_after, &error))
		status = 0;
	pal_delivery_attempt_done(a, status, pal_delivery_parse_retry_after(retry_after), error);
	pal_attempt_free(a);
}

static void
pal_delivery_send(PalDelivery *self, PalSessionQueue *sq, PalHost *host)
{
	PalDeliveryItem *item = g_queue_peek_head(&sq->items);
	PalEndpoint *ep = item->endpoint;
	PalAttempt *a = g_new0(PalAttempt, 1);
	g_autoptr(GPtrArray) hdrs = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *static_headers = pal_endpoint_get_webhook_headers(ep);
	const gchar *user = pal_endpoint_get_webhook_user(ep);
	gint64 now_s = g_get_real_time() / G_USEC_PER_SEC;
	gchar *signature;

	g_atomic_int_add(&self->waiting, -1); /* every head taken off a host's list is sent */
	a->self = g_object_ref(self);
	a->sq = sq;
	a->host = host;
	a->item = pal_delivery_item_ref(item);
	item->attempts++;

	/* (the endpoint refuses static headers the gateway sets itself) */
	if (static_headers != NULL) {
		for (guint i = 0; i + 1 < static_headers->len; i += 2) {
			g_ptr_array_add(hdrs, g_strdup(g_ptr_array_index(static_headers, i)));
			g_ptr_array_add(hdrs, g_strdup(g_ptr_array_index(static_headers, i + 1)));
		}
	}
	g_ptr_array_add(hdrs, g_strdup("webhook-id"));
	g_ptr_array_add(hdrs, g_strdup(item->webhook_id));
	g_ptr_array_add(hdrs, g_strdup("webhook-timestamp"));
	g_ptr_array_add(hdrs, g_strdup_printf("%" G_GINT64_FORMAT, now_s));
	signature = pal_delivery_sign(pal_endpoint_get_signing_secrets(ep), item->webhook_id, now_s, item->body);
	if (signature != NULL) {
		g_ptr_array_add(hdrs, g_strdup("webhook-signature"));
		g_ptr_array_add(hdrs, signature);
	}
	g_ptr_array_add(hdrs, g_strdup("Palaver-Session-Seq"));
	g_ptr_array_add(hdrs, g_strdup_printf("%" G_GUINT64_FORMAT, item->session_seq));
	g_ptr_array_add(hdrs, g_strdup("Palaver-Turn-Id"));
	g_ptr_array_add(hdrs, g_strdup(item->turn_id));
	g_ptr_array_add(hdrs, g_strdup("Palaver-Turn-Index"));
	g_ptr_array_add(hdrs, g_strdup_printf("%u", item->turn_index));
	if (user != NULL && user[0] != '\0') {
		const gchar *password = pal_endpoint_get_webhook_password(ep);
		g_autofree gchar *cred = g_strdup_printf("%s:%s", user, password != NULL ? password : "");
		g_autofree gchar *b64 = g_base64_encode((const guchar *)cred, strlen(cred));
		g_ptr_array_add(hdrs, g_strdup("Authorization"));
		g_ptr_array_add(hdrs, g_strdup_printf("Basic %s", b64));
	}
	g_ptr_array_add(hdrs, NULL);

	host->in_flight++;
	g_atomic_int_inc(&self->in_flight);
	pal_webhook_client_post_async(self->client,
				      pal_endpoint_get_webhook_url(ep),
				      (const gchar *const *)hdrs->pdata,
				      "application/json",
				      item->body,
				      pal_endpoint_get_webhook_timeout_ms(ep),
				      pal_delivery_post_cb,
				      a);
}

void
pal_delivery_enqueue(PalDelivery *self, PalDeliveryItem *item)
{
	PalSessionQueue *sq;

	g_return_if_fail(PAL_IS_DELIVERY(self));
	/* no webhook (any more): outputs only reach output transformers; the item leaves the
	 * backlog it was counted in */
	if (pal_endpoint_get_webhook_url(item->endpoint)[0] == '\0' || self->shut_down) {
		if (self->backlog != NULL)
			pal_backlog_add(self->backlog, pal_endpoint_get_name(item->endpoint), item->session_key, -1);
		return;
	}
	sq = g_hash_table_lookup(self->sessions, item->session_key);
	if (sq == NULL) {
		sq = g_new0(PalSessionQueue, 1);
		sq->self = self;
		sq->key = g_strdup(item->session_key);
		g_hash_table_insert(self->sessions, sq->key, sq);
	}
	g_queue_push_tail(&sq->items, pal_delivery_item_ref(item));
	g_atomic_int_inc(&self->pending);
	(void)g_atomic_pointer_add(&self->pending_bytes, (gssize)g_bytes_get_size(item->body));
	pal_delivery_next(self, sq);
}

guint
pal_delivery_get_pending(PalDelivery *self)
{
	return (guint)g_atomic_int_get(&self->pending);
}

void
pal_delivery_set_backlog(PalDelivery *self, PalBacklog *backlog)
{
	self->backlog = backlog;
}

void
pal_delivery_set_stats(PalDelivery *self, PalStats *stats)
{
	g_set_object(&self->stats, stats);
}

guint64
pal_delivery_get_pending_bytes(PalDelivery *self)
{
	return (guint64)(gsize)g_atomic_pointer_get(&self->pending_bytes);
}

guint
pal_delivery_get_waiting(PalDelivery *self)
{
	return (guint)g_atomic_int_get(&self->waiting);
}

guint
pal_delivery_get_in_flight(PalDelivery *self)
{
	return (guint)g_atomic_int_get(&self->in_flight);
}

guint64
pal_delivery_get_n_delivered(PalDelivery *self)
{
	return self->n_delivered;
}

guint64
pal_delivery_get_n_failed(PalDelivery *self)
{
	return self->n_failed;
}

void
pal_delivery_shutdown(PalDelivery *self)
{
	guint pending = pal_delivery_get_pending(self);

	if (self->shut_down)
		return;
	self->shut_down = TRUE;
	/* what was delivered leaves the outbox before the store closes */
	pal_delivery_flush_delivered(self);
	if (pending > 0)
		g_message("stopping with %u output(s) not delivered", pending);
	pal_webhook_client_abort(self->client);
	/* nothing may point at the session queues once they are gone: hosts' waiting lists, the
	 * starved list, resume timers */
	{
		GHashTableIter hiter;
		PalHost *host;

		g_hash_table_iter_init(&hiter, self->hosts);
		while (g_hash_table_iter_next(&hiter, NULL, (gpointer *)&host)) {
			g_queue_clear(&host->waiting);
			host->starved = FALSE;
			if (host->resume != NULL) {
				g_source_destroy(host->resume);
				g_clear_pointer(&host->resume, g_source_unref);
			}
		}
		g_queue_clear(&self->starved);
	}
	g_hash_table_remove_all(self->sessions);
	g_atomic_int_set(&self->waiting, 0);
	g_atomic_int_set(&self->pending, 0);
	(void)g_atomic_pointer_set(&self->pending_bytes, 0);
}

void
pal_delivery_close_session(PalDelivery *self)
{
	if (self->client == NULL)
		return;
	pal_webhook_client_abort(self->client);
	g_clear_object(&self->client);
}

static void
pal_delivery_finalize(GObject *object)
{
	PalDelivery *self = PAL_DELIVERY(object);

	pal_delivery_shutdown(self);
	pal_delivery_close_session(self);
	g_hash_table_unref(self->sessions);
	g_queue_clear(&self->starved);
	g_hash_table_unref(self->hosts);
	pal_delivery_flush_delivered(self);
	g_array_unref(self->delivered_ids);
	g_clear_object(&self->store);
	g_clear_pointer(&self->pauses, pal_host_pauses_unref);
	g_clear_object(&self->stats);
	g_main_context_unref(self->context);
	G_OBJECT_CLASS(pal_delivery_parent_class)->finalize(object);
}

static void
pal_delivery_class_init(PalDeliveryClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_delivery_finalize;
}

static void
pal_delivery_init(PalDelivery *self)
{
	self->sessions = g_hash_table_new_full(g_str_hash,
					       g_str_equal,
					       NULL,
					       (GDestroyNotify)pal_session_queue_free);
	self->hosts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)pal_host_free);
	self->delivered_ids = g_array_new(FALSE, FALSE, sizeof(gint64));
}

static gboolean
pal_delivery_env_has_proxy(void)
{
	static const gchar *const names[] = {
		"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
	};

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		const gchar *v = g_getenv(names[i]);
		if (v != NULL && v[0] != '\0')
			return TRUE;
	}
	return FALSE;
}

PalDelivery *
pal_delivery_new(guint max_conns, guint max_conns_per_host, PalStore *store, PalHostPauses *pauses)
{
	PalDelivery *self = g_object_new(PAL_TYPE_DELIVERY, NULL);
	g_autofree gchar *ua = g_strdup_printf("palaver/%s", PACKAGE_VERSION);

	self->context = g_main_context_ref_thread_default();
	self->store = store != NULL ? g_object_ref(store) : NULL;
	self->pauses = pauses != NULL ? pal_host_pauses_ref(pauses) : NULL;
	self->max_conns = MAX(max_conns, 1);
	self->max_conns_per_host = MIN(MAX(max_conns_per_host, 1), self->max_conns);
	/* GIO's default proxy resolver (libproxy, GNOME settings) asks a thread pool for every
	 * new connection and re-reads system files each time: it cost more CPU than the delivery
	 * itself. Without a proxy in the environment, webhooks go direct; with one
	 * (http_proxy, https_proxy, all_proxy, upper or lower case), the default resolver is used */
	self->client = pal_webhook_client_new(ua, 60, pal_delivery_env_has_proxy());
	return self;
}
