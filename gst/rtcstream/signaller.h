// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RtcstreamSignaller: the interface between an element and a signalling
// transport. The element knows sessions; a signaller knows a server. Our
// websocket protocol, WHIP/WHEP or an SFU's API are each one implementation;
// an application may provide its own and set it on the `signaller` property.
//
// Threads: methods may be called from any thread (webrtcbin's included) and
// must not block; signals are emitted from the signaller's own thread.
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

G_BEGIN_DECLS

#define RTCSTREAM_TYPE_SIGNALLER (rtcstream_signaller_get_type ())
G_DECLARE_INTERFACE (RtcstreamSignaller, rtcstream_signaller, RTCSTREAM, SIGNALLER, GObject)

typedef enum {
  RTCSTREAM_ROLE_PRODUCER,
  RTCSTREAM_ROLE_CONSUMER,
} RtcstreamRole;

GType rtcstream_role_get_type (void);
#define RTCSTREAM_TYPE_ROLE (rtcstream_role_get_type ())

#define RTCSTREAM_SIGNALLER_ERROR (rtcstream_signaller_error_quark ())
GQuark rtcstream_signaller_error_quark (void);

typedef enum {
  RTCSTREAM_SIGNALLER_ERROR_FAILED,        /* anything else */
  RTCSTREAM_SIGNALLER_ERROR_UNREACHABLE,   /* could not connect to the server */
  RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED,  /* the server went away */
  RTCSTREAM_SIGNALLER_ERROR_NAME_TAKEN,    /* a producer already uses the name */
  RTCSTREAM_SIGNALLER_ERROR_NOT_FOUND,     /* no producer with that name */
  RTCSTREAM_SIGNALLER_ERROR_PROTOCOL,      /* the server said something invalid */
  RTCSTREAM_SIGNALLER_ERROR_REFUSED,       /* the server refused a request */
} RtcstreamSignallerError;

/* What a signaller's remote end can do or needs, beyond the interface's
 * calls: elements and sessions ask with rtcstream_signaller_get_features ()
 * instead of looking for properties. */
typedef enum /*< flags >*/ {
  RTCSTREAM_SIGNALLER_FEATURE_NONE = 0,
  /* The remote end takes audio and video only (WHIP/WHEP clients and
   * endpoints): elements open no data channels through this signaller. */
  RTCSTREAM_SIGNALLER_FEATURE_MEDIA_ONLY = 1 << 0,
  /* The signalling side may hand out STUN/TURN servers
   * (rtcstream_signaller_get_ice_servers ()): rtcstream-signalling's
   * welcome, a WHIP/WHEP endpoint's Link headers. */
  RTCSTREAM_SIGNALLER_FEATURE_ANNOUNCES_ICE_SERVERS = 1 << 1,
  /* ... and they come with the remote answer (WHIP/WHEP in trickle mode): a
   * session that offers sets its local description (which starts ICE
   * gathering) only once the answer is in, so that it can use them. */
  RTCSTREAM_SIGNALLER_FEATURE_ICE_SERVERS_IN_ANSWER = 1 << 2,
} RtcstreamSignallerFeatures;

GType rtcstream_signaller_features_get_type (void);
#define RTCSTREAM_TYPE_SIGNALLER_FEATURES (rtcstream_signaller_features_get_type ())

struct _RtcstreamSignallerInterface {
  GTypeInterface parent_iface;

  /* Connect and register under the configured role and stream name. */
  void (*start) (RtcstreamSignaller *self);
  /* Disconnect; ends every session. No signal is emitted after it returns. */
  void (*stop) (RtcstreamSignaller *self);
  void (*send_sdp) (RtcstreamSignaller *self, const gchar *session_id,
      const GstWebRTCSessionDescription *sdp);
  /* A local candidate; an empty candidate ("") marks the end of gathering
   * (signallers that trickle nothing may ignore it). */
  void (*add_ice) (RtcstreamSignaller *self, const gchar *session_id,
      guint mline, const gchar *candidate);
  void (*end_session) (RtcstreamSignaller *self, const gchar *session_id);
  /* Optional (NULL: none). Any thread. */
  RtcstreamSignallerFeatures (*get_features) (RtcstreamSignaller *self);
  /* Optional (NULL: none). Any thread: the STUN/TURN servers the signalling
   * side handed out so far, as webrtcbin URIs (stun://HOST:PORT,
   * turn(s)://USER:PASS@HOST:PORT); NULL-terminated, transfer full. */
  gchar ** (*get_ice_servers) (RtcstreamSignaller *self);
};

/* Interface properties every signaller has:
 *  "role"        RtcstreamRole, which side the element is
 *  "stream-name" gchar*, the stream to publish or to watch
 * The signallers rtcstream ships derive from RtcstreamBaseSignaller, which
 * also has the settings elements pass on (tls-ca-file, auth-token,
 * producer-timeout) and a read-only "ice-servers".
 * Signals:
 *  "registered" ()                                      producer visible to viewers
 *  "session-requested" (gchar *session_id, gchar *peer_id,
 *                       GstWebRTCSessionDescription *offer_or_null)   producer side
 *  "session-started" (gchar *session_id, gchar *peer_id)             consumer side
 *      the producer offers: the consumer makes its session and waits for the offer
 *  "session-requested" on the consumer side, always with a NULL offer (WHEP):
 *      the consumer makes its session with recvonly transceivers and offers
 *      itself (send_sdp); the answer comes back as "session-description"
 *  "session-description" (gchar *session_id, GstWebRTCSessionDescription *sdp)
 *  "handle-ice" (gchar *session_id, guint mline, gchar *candidate)
 *  "session-ended" (gchar *session_id)
 *  "error" (GError *error)        the signaller gave up: the element posts an ERROR
 *  "warning" (GError *error)      a problem it works around (the connection to the
 *      server was lost and it reconnects; sessions go on): the element posts a WARNING
 */

void rtcstream_signaller_start (RtcstreamSignaller *self);
void rtcstream_signaller_stop (RtcstreamSignaller *self);
void rtcstream_signaller_send_sdp (RtcstreamSignaller *self, const gchar *session_id,
    const GstWebRTCSessionDescription *sdp);
void rtcstream_signaller_add_ice (RtcstreamSignaller *self, const gchar *session_id,
    guint mline, const gchar *candidate);
void rtcstream_signaller_end_session (RtcstreamSignaller *self, const gchar *session_id);
RtcstreamSignallerFeatures rtcstream_signaller_get_features (RtcstreamSignaller *self);
/**
 * rtcstream_signaller_get_ice_servers:
 * @self: a signaller
 *
 * Returns: (transfer full) (nullable) (array zero-terminated=1): the STUN/TURN
 *     servers the signalling side handed out, as webrtcbin URIs; free with
 *     g_strfreev.
 */
gchar **rtcstream_signaller_get_ice_servers (RtcstreamSignaller *self);

/* For implementations: emit the interface's signals. */
void rtcstream_signaller_emit_registered (RtcstreamSignaller *self);
void rtcstream_signaller_emit_session_requested (RtcstreamSignaller *self,
    const gchar *session_id, const gchar *peer_id, GstWebRTCSessionDescription *offer);
void rtcstream_signaller_emit_session_started (RtcstreamSignaller *self,
    const gchar *session_id, const gchar *peer_id);
void rtcstream_signaller_emit_session_description (RtcstreamSignaller *self,
    const gchar *session_id, GstWebRTCSessionDescription *sdp);
void rtcstream_signaller_emit_handle_ice (RtcstreamSignaller *self,
    const gchar *session_id, guint mline, const gchar *candidate);
void rtcstream_signaller_emit_session_ended (RtcstreamSignaller *self,
    const gchar *session_id);
void rtcstream_signaller_emit_error (RtcstreamSignaller *self, const GError *error);
void rtcstream_signaller_emit_warning (RtcstreamSignaller *self, const GError *error);

G_END_DECLS
