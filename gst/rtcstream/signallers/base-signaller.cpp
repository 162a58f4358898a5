// SPDX-License-Identifier: LGPL-2.1-or-later
#include "base-signaller.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (rtcstream_base_signaller_debug);
#define GST_CAT_DEFAULT rtcstream_base_signaller_debug

using rtcstream::Ref;

namespace {

enum {
  PROP_0,
  PROP_ROLE,
  PROP_STREAM_NAME,
  PROP_TLS_CA_FILE,
  PROP_AUTH_TOKEN,
  PROP_PRODUCER_TIMEOUT,
  PROP_RECONNECT_TIMEOUT,
  PROP_ICE_SERVERS,
};

struct Private {
  // The properties: guarded by lock, copied out before use.
  std::mutex lock;
  RtcstreamRole role = RTCSTREAM_ROLE_PRODUCER;
  std::string stream_name;
  rtcstream::SignallerSettings settings;
  std::vector<rtcstream::IceServer> ice_servers;  // those of a known kind

  // Worker-thread-only: between the subclass's start and its stop. Calls
  // posted by the element and errors are dropped outside a run.
  bool running = false;

  std::unique_ptr<rtcstream::Worker> worker;  // from constructed to finalize
  gpointer state = nullptr;                   // the subclass's
  GDestroyNotify free_state = nullptr;
};

}  // namespace

typedef struct {
  Private *p;
} RtcstreamBaseSignallerPrivate;

static void rtcstream_base_signaller_iface_init (RtcstreamSignallerInterface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (RtcstreamBaseSignaller, rtcstream_base_signaller,
    G_TYPE_OBJECT,
    G_ADD_PRIVATE (RtcstreamBaseSignaller)
    G_IMPLEMENT_INTERFACE (RTCSTREAM_TYPE_SIGNALLER, rtcstream_base_signaller_iface_init)
    GST_DEBUG_CATEGORY_INIT (rtcstream_base_signaller_debug, "rtcstream-base-signaller", 0,
        "rtcstream signallers' common base"))

namespace {

Private *
priv (RtcstreamBaseSignaller *self)
{
  return static_cast<RtcstreamBaseSignallerPrivate *> (
      rtcstream_base_signaller_get_instance_private (self))->p;
}

RtcstreamBaseSignallerClass *
klass (RtcstreamBaseSignaller *self)
{
  return RTCSTREAM_BASE_SIGNALLER_GET_CLASS (self);
}

// Where the base logs about self: the subclass's category when it has one.
GstDebugCategory *
category (RtcstreamBaseSignaller *self)
{
  GstDebugCategory *cat = klass (self)->debug_category;
  return cat ? cat : rtcstream_base_signaller_debug;
}

// Worker thread.
void
run_start (RtcstreamBaseSignaller *self)
{
  priv (self)->running = true;
  klass (self)->start (self);
}

// Worker thread. running goes first, so nothing the subclass does while it
// stops is emitted.
void
run_stop (RtcstreamBaseSignaller *self)
{
  priv (self)->running = false;
  klass (self)->stop (self);
}

// Any thread. Runs fn (self, session_id) on the worker with a ref held on
// self, unless by then the run has ended or the subclass no longer has that
// session (the element's call raced a stop or the session's end).
template <typename Fn>
void
post_for_session (RtcstreamBaseSignaller *self, const gchar *session_id, Fn fn)
{
  std::string sid = session_id ? session_id : "";
  rtcstream::post (self, [sid, fn] (RtcstreamBaseSignaller *self) {
    if (!priv (self)->running)
      return;
    auto accepts = klass (self)->accepts_session;
    if (accepts && !accepts (self, sid.c_str ()))
      return;
    fn (self, sid.c_str ());
  });
}

void
base_start (RtcstreamSignaller *iface)
{
  auto *self = RTCSTREAM_BASE_SIGNALLER (iface);
  priv (self)->worker->run_sync ([self] { run_start (self); });
}

void
base_stop (RtcstreamSignaller *iface)
{
  auto *self = RTCSTREAM_BASE_SIGNALLER (iface);
  priv (self)->worker->run_sync ([self] { run_stop (self); });
}

void
base_send_sdp (RtcstreamSignaller *iface, const gchar *session_id,
    const GstWebRTCSessionDescription *sdp)
{
  std::shared_ptr<GstWebRTCSessionDescription> copy (
      gst_webrtc_session_description_copy (sdp), gst_webrtc_session_description_free);
  post_for_session (RTCSTREAM_BASE_SIGNALLER (iface), session_id,
      [copy] (RtcstreamBaseSignaller *self, const gchar *sid) {
        klass (self)->send_sdp (self, sid, copy.get ());
      });
}

void
base_add_ice (RtcstreamSignaller *iface, const gchar *session_id, guint mline,
    const gchar *candidate)
{
  std::string cand = candidate ? candidate : "";
  post_for_session (RTCSTREAM_BASE_SIGNALLER (iface), session_id,
      [mline, cand] (RtcstreamBaseSignaller *self, const gchar *sid) {
        klass (self)->add_ice (self, sid, mline, cand.c_str ());
      });
}

void
base_end_session (RtcstreamSignaller *iface, const gchar *session_id)
{
  post_for_session (RTCSTREAM_BASE_SIGNALLER (iface), session_id,
      [] (RtcstreamBaseSignaller *self, const gchar *sid) {
        klass (self)->end_session (self, sid);
      });
}

RtcstreamSignallerFeatures
base_get_features (RtcstreamSignaller *iface)
{
  auto *self = RTCSTREAM_BASE_SIGNALLER (iface);
  return klass (self)->get_features ? klass (self)->get_features (self)
                                    : RTCSTREAM_SIGNALLER_FEATURE_NONE;
}

// The servers as webrtcbin URIs, the shape of the C interface and of the
// "ice-servers" property.
std::vector<std::string>
ice_server_uris (const std::vector<rtcstream::IceServer> &servers)
{
  std::vector<std::string> uris;
  for (const rtcstream::IceServer &s : servers)
    for (std::string &uri : s.webrtcbin_uris ())
      uris.push_back (std::move (uri));
  return uris;
}

gchar **
base_get_ice_servers (RtcstreamSignaller *iface)
{
  std::vector<std::string> uris =
      ice_server_uris (rtcstream::signaller_ice_servers (RTCSTREAM_BASE_SIGNALLER (iface)));
  if (uris.empty ())
    return nullptr;
  gchar **out = g_new0 (gchar *, uris.size () + 1);
  for (std::size_t i = 0; i < uris.size (); i++)
    out[i] = g_strdup (uris[i].c_str ());
  return out;
}

std::string
string_or_empty (const GValue *value)
{
  const char *s = g_value_get_string (value);
  return s ? s : "";
}

const char *
null_if_empty (const std::string &s)
{
  return s.empty () ? nullptr : s.c_str ();
}

}  // namespace

static void
rtcstream_base_signaller_iface_init (RtcstreamSignallerInterface *iface)
{
  iface->start = base_start;
  iface->stop = base_stop;
  iface->send_sdp = base_send_sdp;
  iface->add_ice = base_add_ice;
  iface->end_session = base_end_session;
  iface->get_features = base_get_features;
  iface->get_ice_servers = base_get_ice_servers;
}

static void
rtcstream_base_signaller_init (RtcstreamBaseSignaller *self)
{
  static_cast<RtcstreamBaseSignallerPrivate *> (
      rtcstream_base_signaller_get_instance_private (self))->p = new Private ();
}

// The worker is made here rather than in init: only now is the class the
// subclass's, which names it.
static void
rtcstream_base_signaller_constructed (GObject *object)
{
  auto *self = RTCSTREAM_BASE_SIGNALLER (object);
  const gchar *name = klass (self)->worker_name;
  priv (self)->worker = std::make_unique<rtcstream::Worker> (name ? name : "rtcstream-signal");
  G_OBJECT_CLASS (rtcstream_base_signaller_parent_class)->constructed (object);
}

// Stop on the worker first (the subclass's callbacks run there and use its
// state), end the worker (queued callbacks are dropped, releasing their refs),
// and only then free the subclass's state.
static void
rtcstream_base_signaller_finalize (GObject *object)
{
  auto *self = RTCSTREAM_BASE_SIGNALLER (object);
  Private *p = priv (self);
  p->worker->run_sync ([self] { run_stop (self); });
  p->worker.reset ();
  if (p->free_state)
    p->free_state (p->state);
  delete p;
  G_OBJECT_CLASS (rtcstream_base_signaller_parent_class)->finalize (object);
}

static void
rtcstream_base_signaller_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  Private *p = priv (RTCSTREAM_BASE_SIGNALLER (object));
  std::lock_guard<std::mutex> lk (p->lock);
  switch (prop_id) {
    case PROP_ROLE:
      p->role = static_cast<RtcstreamRole> (g_value_get_enum (value));
      break;
    case PROP_STREAM_NAME:
      p->stream_name = string_or_empty (value);
      break;
    case PROP_TLS_CA_FILE:
      p->settings.tls_ca_file = string_or_empty (value);
      break;
    case PROP_AUTH_TOKEN:
      p->settings.auth_token = string_or_empty (value);
      break;
    case PROP_PRODUCER_TIMEOUT:
      p->settings.producer_timeout_ms = g_value_get_int (value);
      break;
    case PROP_RECONNECT_TIMEOUT:
      p->settings.reconnect_timeout_ms = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
rtcstream_base_signaller_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  Private *p = priv (RTCSTREAM_BASE_SIGNALLER (object));
  std::lock_guard<std::mutex> lk (p->lock);
  switch (prop_id) {
    case PROP_ROLE:
      g_value_set_enum (value, p->role);
      break;
    case PROP_STREAM_NAME:
      g_value_set_string (value, null_if_empty (p->stream_name));
      break;
    case PROP_TLS_CA_FILE:
      g_value_set_string (value, null_if_empty (p->settings.tls_ca_file));
      break;
    case PROP_AUTH_TOKEN:
      g_value_set_string (value, null_if_empty (p->settings.auth_token));
      break;
    case PROP_PRODUCER_TIMEOUT:
      g_value_set_int (value, p->settings.producer_timeout_ms);
      break;
    case PROP_RECONNECT_TIMEOUT:
      g_value_set_int (value, p->settings.reconnect_timeout_ms);
      break;
    case PROP_ICE_SERVERS:
      rtcstream::value_set_strv (value, ice_server_uris (p->ice_servers));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
rtcstream_base_signaller_class_init (RtcstreamBaseSignallerClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  gobject_class->constructed = rtcstream_base_signaller_constructed;
  gobject_class->finalize = rtcstream_base_signaller_finalize;
  gobject_class->set_property = rtcstream_base_signaller_set_property;
  gobject_class->get_property = rtcstream_base_signaller_get_property;

  g_object_class_override_property (gobject_class, PROP_ROLE, "role");
  g_object_class_override_property (gobject_class, PROP_STREAM_NAME, "stream-name");

  const auto rw = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (gobject_class, PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file",
          "PEM file of the certificate authorities to trust for TLS (wss://, https://), "
          "e.g. the server's self-signed certificate; unset uses the system's trust store",
          nullptr, rw));
  g_object_class_install_property (gobject_class, PROP_AUTH_TOKEN,
      g_param_spec_string ("auth-token", "Auth token",
          "Bearer token sent as 'Authorization: Bearer TOKEN' where the transport has "
          "one (the websocket upgrade to rtcstream-signalling, WHIP/WHEP requests); "
          "unset sends none",
          nullptr, rw));
  g_object_class_install_property (gobject_class, PROP_PRODUCER_TIMEOUT,
      g_param_spec_int ("producer-timeout", "Producer timeout",
          "Consumer: how long to wait (ms) for the stream to be published before "
          "failing, where the signalling can wait (rtcstream-signalling, Janus); -1 waits "
          "forever, 0 fails at once if it is not there",
          -1, G_MAXINT, 30000, rw));
  g_object_class_install_property (gobject_class, PROP_RECONNECT_TIMEOUT,
      g_param_spec_int ("reconnect-timeout", "Reconnect timeout",
          "After losing the connection to a signalling server that keeps one "
          "(rtcstream-signalling, Janus): how long (ms) to try to reconnect, with backoff, "
          "while running sessions go on, before failing; -1 tries forever, 0 fails at once",
          -1, G_MAXINT, 30000, rw));
  g_object_class_install_property (gobject_class, PROP_ICE_SERVERS,
      g_param_spec_boxed ("ice-servers", "ICE servers",
          "STUN/TURN servers the signalling side handed out (rtcstream-signalling's "
          "welcome, a WHIP/WHEP answer's Link headers), as webrtcbin URIs; sessions use "
          "them next to the element's stun-server and turn-servers",
          G_TYPE_STRV, (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
}

RtcstreamRole
rtcstream_base_signaller_get_role (RtcstreamBaseSignaller *self)
{
  Private *p = priv (self);
  std::lock_guard<std::mutex> lk (p->lock);
  return p->role;
}

void
rtcstream_base_signaller_emit_error (RtcstreamBaseSignaller *self, RtcstreamSignallerError code,
    const gchar *message)
{
  if (!priv (self)->running)
    return;
  GST_CAT_WARNING_OBJECT (category (self), self, "%s", message);
  g_autoptr (GError) err = g_error_new_literal (RTCSTREAM_SIGNALLER_ERROR, code, message);
  rtcstream_signaller_emit_error (RTCSTREAM_SIGNALLER (self), err);
}

void
rtcstream_base_signaller_emit_warning (RtcstreamBaseSignaller *self,
    RtcstreamSignallerError code, const gchar *message)
{
  if (!priv (self)->running)
    return;
  GST_CAT_WARNING_OBJECT (category (self), self, "%s", message);
  g_autoptr (GError) err = g_error_new_literal (RTCSTREAM_SIGNALLER_ERROR, code, message);
  rtcstream_signaller_emit_warning (RTCSTREAM_SIGNALLER (self), err);
}

void
rtcstream_base_signaller_set_state (RtcstreamBaseSignaller *self, gpointer state,
    GDestroyNotify free_state)
{
  Private *p = priv (self);
  p->state = state;
  p->free_state = free_state;
}

namespace rtcstream {

Worker &
signaller_worker (RtcstreamBaseSignaller *self)
{
  return *priv (self)->worker;
}

void
value_set_strv (GValue *value, const std::vector<std::string> &list)
{
  std::vector<const char *> v;
  for (const std::string &s : list)
    v.push_back (s.c_str ());
  v.push_back (nullptr);
  g_value_set_boxed (value, v.data ());
}

SignallerSettings
signaller_settings (RtcstreamBaseSignaller *self)
{
  Private *p = priv (self);
  std::lock_guard<std::mutex> lk (p->lock);
  return p->settings;
}

void
signaller_set_ice_servers (RtcstreamBaseSignaller *self, const char *who,
    const std::vector<IceServer> &servers)
{
  std::vector<IceServer> known;
  for (const IceServer &s : servers) {
    IceServer k = s;
    k.urls.clear ();
    for (const std::string &url : s.urls) {
      if (IceServer{ { url }, s.username, s.credential }.webrtcbin_uris ().empty ()) {
        GST_CAT_WARNING_OBJECT (category (self), self, "ignoring ICE server of unknown kind %s",
            url.c_str ());
        continue;
      }
      GST_CAT_INFO_OBJECT (category (self), self, "%s announces ICE server %s", who, url.c_str ());
      k.urls.push_back (url);
    }
    if (!k.urls.empty ())
      known.push_back (std::move (k));
  }
  Private *p = priv (self);
  {
    std::lock_guard<std::mutex> lk (p->lock);
    if (p->ice_servers == known)
      return;
    p->ice_servers = std::move (known);
  }
  g_object_notify (G_OBJECT (self), "ice-servers");
}

std::vector<IceServer>
signaller_ice_servers (RtcstreamBaseSignaller *self)
{
  Private *p = priv (self);
  std::lock_guard<std::mutex> lk (p->lock);
  return p->ice_servers;
}

std::string
signaller_stream_name (RtcstreamBaseSignaller *self)
{
  Private *p = priv (self);
  std::lock_guard<std::mutex> lk (p->lock);
  return p->stream_name;
}

guint
reconnect_delay_ms (guint attempts)
{
  constexpr guint kFirstMs = 250, kMaxMs = 1000;
  const guint delay = std::min (kFirstMs << std::min (attempts, 8u), kMaxMs);
  return (guint) (delay * g_random_double_range (0.8, 1.2));
}

void
cancel_timer (RtcstreamBaseSignaller *self, guint &source_id)
{
  if (!source_id)
    return;
  GSource *src = g_main_context_find_source_by_id (signaller_worker (self).context (), source_id);
  if (src)
    g_source_destroy (src);
  source_id = 0;
}

}  // namespace rtcstream
