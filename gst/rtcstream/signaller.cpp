// SPDX-License-Identifier: LGPL-2.1-or-later
#include "signaller.h"

G_DEFINE_QUARK (rtcstream-signaller-error-quark, rtcstream_signaller_error)

GType
rtcstream_role_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {RTCSTREAM_ROLE_PRODUCER, "Publishes a stream", "producer"},
    {RTCSTREAM_ROLE_CONSUMER, "Watches a stream", "consumer"},
    {0, nullptr, nullptr},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("RtcstreamRole", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
rtcstream_signaller_features_get_type (void)
{
  static GType type = 0;
  static const GFlagsValue values[] = {
    {RTCSTREAM_SIGNALLER_FEATURE_MEDIA_ONLY, "The remote end takes audio and video only",
        "media-only"},
    {RTCSTREAM_SIGNALLER_FEATURE_ANNOUNCES_ICE_SERVERS, "The signalling side hands out "
        "STUN/TURN servers", "announces-ice-servers"},
    {RTCSTREAM_SIGNALLER_FEATURE_ICE_SERVERS_IN_ANSWER, "STUN/TURN servers come with the "
        "answer", "ice-servers-in-answer"},
    {0, nullptr, nullptr},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_flags_register_static ("RtcstreamSignallerFeatures", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

namespace {

enum {
  SIGNAL_REGISTERED,
  SIGNAL_SESSION_REQUESTED,
  SIGNAL_SESSION_STARTED,
  SIGNAL_SESSION_DESCRIPTION,
  SIGNAL_HANDLE_ICE,
  SIGNAL_SESSION_ENDED,
  SIGNAL_ERROR,
  SIGNAL_WARNING,
  N_SIGNALS
};
guint signals[N_SIGNALS];

}  // namespace

G_DEFINE_INTERFACE (RtcstreamSignaller, rtcstream_signaller, G_TYPE_OBJECT)

static void
rtcstream_signaller_default_init (RtcstreamSignallerInterface *iface)
{
  g_object_interface_install_property (iface,
      g_param_spec_enum ("role", "Role",
          "Which side of a session the element using this signaller is",
          RTCSTREAM_TYPE_ROLE, RTCSTREAM_ROLE_PRODUCER,
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  g_object_interface_install_property (iface,
      g_param_spec_string ("stream-name", "Stream name",
          "Name of the stream to publish (producer) or to watch (consumer)",
          nullptr, (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));

  GType t = G_TYPE_FROM_INTERFACE (iface);
  signals[SIGNAL_REGISTERED] = g_signal_new ("registered", t, G_SIGNAL_RUN_LAST,
      0, nullptr, nullptr, nullptr, G_TYPE_NONE, 0);
  signals[SIGNAL_SESSION_REQUESTED] = g_signal_new ("session-requested", t,
      G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr, G_TYPE_NONE, 3,
      G_TYPE_STRING, G_TYPE_STRING, GST_TYPE_WEBRTC_SESSION_DESCRIPTION);
  signals[SIGNAL_SESSION_STARTED] = g_signal_new ("session-started", t,
      G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr, G_TYPE_NONE, 2,
      G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_SESSION_DESCRIPTION] = g_signal_new ("session-description", t,
      G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr, G_TYPE_NONE, 2,
      G_TYPE_STRING, GST_TYPE_WEBRTC_SESSION_DESCRIPTION);
  signals[SIGNAL_HANDLE_ICE] = g_signal_new ("handle-ice", t, G_SIGNAL_RUN_LAST,
      0, nullptr, nullptr, nullptr, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_UINT,
      G_TYPE_STRING);
  signals[SIGNAL_SESSION_ENDED] = g_signal_new ("session-ended", t,
      G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_ERROR] = g_signal_new ("error", t, G_SIGNAL_RUN_LAST, 0,
      nullptr, nullptr, nullptr, G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[SIGNAL_WARNING] = g_signal_new ("warning", t, G_SIGNAL_RUN_LAST, 0,
      nullptr, nullptr, nullptr, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

void
rtcstream_signaller_start (RtcstreamSignaller *self)
{
  g_return_if_fail (RTCSTREAM_IS_SIGNALLER (self));
  RTCSTREAM_SIGNALLER_GET_IFACE (self)->start (self);
}

void
rtcstream_signaller_stop (RtcstreamSignaller *self)
{
  g_return_if_fail (RTCSTREAM_IS_SIGNALLER (self));
  RTCSTREAM_SIGNALLER_GET_IFACE (self)->stop (self);
}

void
rtcstream_signaller_send_sdp (RtcstreamSignaller *self, const gchar *session_id,
    const GstWebRTCSessionDescription *sdp)
{
  g_return_if_fail (RTCSTREAM_IS_SIGNALLER (self));
  RTCSTREAM_SIGNALLER_GET_IFACE (self)->send_sdp (self, session_id, sdp);
}

void
rtcstream_signaller_add_ice (RtcstreamSignaller *self, const gchar *session_id,
    guint mline, const gchar *candidate)
{
  g_return_if_fail (RTCSTREAM_IS_SIGNALLER (self));
  RTCSTREAM_SIGNALLER_GET_IFACE (self)->add_ice (self, session_id, mline, candidate);
}

void
rtcstream_signaller_end_session (RtcstreamSignaller *self, const gchar *session_id)
{
  g_return_if_fail (RTCSTREAM_IS_SIGNALLER (self));
  RTCSTREAM_SIGNALLER_GET_IFACE (self)->end_session (self, session_id);
}

void
rtcstream_signaller_emit_registered (RtcstreamSignaller *self)
{
  g_signal_emit (self, signals[SIGNAL_REGISTERED], 0);
}

void
rtcstream_signaller_emit_session_requested (RtcstreamSignaller *self,
    const gchar *session_id, const gchar *peer_id, GstWebRTCSessionDescription *offer)
{
  g_signal_emit (self, signals[SIGNAL_SESSION_REQUESTED], 0, session_id, peer_id, offer);
}

void
rtcstream_signaller_emit_session_started (RtcstreamSignaller *self,
    const gchar *session_id, const gchar *peer_id)
{
  g_signal_emit (self, signals[SIGNAL_SESSION_STARTED], 0, session_id, peer_id);
}

void
rtcstream_signaller_emit_session_description (RtcstreamSignaller *self,
    const gchar *session_id, GstWebRTCSessionDescription *sdp)
{
  g_signal_emit (self, signals[SIGNAL_SESSION_DESCRIPTION], 0, session_id, sdp);
}

void
rtcstream_signaller_emit_handle_ice (RtcstreamSignaller *self,
    const gchar *session_id, guint mline, const gchar *candidate)
{
  g_signal_emit (self, signals[SIGNAL_HANDLE_ICE], 0, session_id, mline, candidate);
}

void
rtcstream_signaller_emit_session_ended (RtcstreamSignaller *self, const gchar *session_id)
{
  g_signal_emit (self, signals[SIGNAL_SESSION_ENDED], 0, session_id);
}

void
rtcstream_signaller_emit_error (RtcstreamSignaller *self, const GError *error)
{
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
}

void
rtcstream_signaller_emit_warning (RtcstreamSignaller *self, const GError *error)
{
  g_signal_emit (self, signals[SIGNAL_WARNING], 0, error);
}

RtcstreamSignallerFeatures
rtcstream_signaller_get_features (RtcstreamSignaller *self)
{
  g_return_val_if_fail (RTCSTREAM_IS_SIGNALLER (self), RTCSTREAM_SIGNALLER_FEATURE_NONE);
  auto *iface = RTCSTREAM_SIGNALLER_GET_IFACE (self);
  return iface->get_features ? iface->get_features (self) : RTCSTREAM_SIGNALLER_FEATURE_NONE;
}

gchar **
rtcstream_signaller_get_ice_servers (RtcstreamSignaller *self)
{
  g_return_val_if_fail (RTCSTREAM_IS_SIGNALLER (self), nullptr);
  auto *iface = RTCSTREAM_SIGNALLER_GET_IFACE (self);
  return iface->get_ice_servers ? iface->get_ice_servers (self) : nullptr;
}
