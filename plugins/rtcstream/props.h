// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What rtcstreamsink and rtcstreamsrc share: the properties both have, the
// URI handling, and making the default signaller from a URI.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "rtcstream/codecs.h"
#include "rtcstream/datachannel.h"
#include "rtcstream/ref.h"
#include "rtcstream/session.h"
#include "rtcstream/signaller.h"

namespace rtcstream {

enum CommonProp : guint {
  PROP_URI = 1,
  PROP_STUN_SERVER,
  PROP_TURN_SERVERS,
  PROP_SIGNALLER,
  PROP_VIDEO_CODECS,
  PROP_AUDIO_CODECS,
  PROP_TLS_CA_FILE,
  PROP_ICE_TRANSPORT_POLICY,
  PROP_AUTH_TOKEN,
  PROP_RECONNECT_TIMEOUT,
  PROP_ICE_TCP,
  PROP_COMMON_LAST,
};

// reconnect-timeout's default, as the signallers' own.
constexpr gint kDefaultReconnectTimeoutMs = 30000;

// Settings of one element. Guarded by the element's object lock.
struct CommonSettings {
  std::string uri;
  std::string stream_name;   // from the URI
  std::string ws_url;        // from the URI
  std::string stun_server;
  std::vector<std::string> turn_servers;
  bool relay_only = false;    // ice-transport-policy=relay
  bool ice_tcp = false;       // ice-tcp
  std::string tls_ca_file;
  std::string auth_token;    // bearer token for WHIP/WHEP endpoints
  gint reconnect_timeout_ms = kDefaultReconnectTimeoutMs;
  // The application's own signaller (the signaller property), null when
  // unset: then the element makes one from the uri at each start. Never the
  // signaller in use: ElementCore owns that one while started.
  Ref<RtcstreamSignaller> signaller;
  std::vector<const Codec *> video_codecs;
  std::vector<const Codec *> audio_codecs;
  // A bad uri or codec list, kept to fail with at start: a warning posted
  // while gst-launch still parses the line is never shown.
  std::string uri_error;
  std::string codec_error[2];  // per MediaKind
  std::string turn_error;      // a malformed turn-servers entry
  std::string ladder_error;    // rtcstreamsink's video-ladder
};

void install_common_properties (GObjectClass *klass, const char *role_word);

// The data channel signals both elements have, as indexes of an element's
// array of their ids.
enum MessageSignal : guint {
  SIGNAL_DATA_CHANNEL_OPENED,
  SIGNAL_TEXT_MESSAGE,
  SIGNAL_BINARY_MESSAGE,
  SIGNAL_SEND_TEXT,    // the element's own: its arguments differ
  SIGNAL_SEND_BINARY,  // the element's own: its arguments differ
  N_MESSAGE_SIGNALS,
};

// Installs the first three, all emitted from the element's worker thread:
//  "data-channel-opened" (gchar *peer_id)                 a "data" channel opened
//  "text-message"        (gchar *peer_id, gchar *text)    a text message on it
//  "binary-message"      (gchar *peer_id, GBytes *data)   a binary message on it
// peer_id is the consumer's (on the sink) or the producer's (on the src).
void install_message_signals (GObjectClass *klass, guint ids[N_MESSAGE_SIGNALS]);

// Data channel handlers that emit those signals on element, naming the peer
// of a session with peer_of (an empty name: the session is gone, nothing is
// emitted). The "input" handler is left for the element to set.
DataChannels::Handlers message_signal_handlers (GstElement *element,
    const guint ids[N_MESSAGE_SIGNALS],
    std::function<std::string (const std::string &session)> peer_of);
void init_common_settings (CommonSettings &s);
// Return true if prop_id was one of ours.
bool set_common_property (GstElement *element, CommonSettings &s, guint prop_id,
    const GValue *value);
bool get_common_property (const CommonSettings &s, guint prop_id, GValue *value);

// Applies a rtcstream:// URI; on failure fills error.
bool apply_uri (CommonSettings &s, const char *uri, std::string &error);

// The signaller for a start: the application's (set up for role), or a new
// one made from the uri (ours over websocket, WHIP/WHEP, Janus, loopback).
// Returns null with error filled when the settings cannot work (no uri, a
// bad uri or codec list kept from when it was set, relay without TURN).
Ref<RtcstreamSignaller> signaller_for_start (const CommonSettings &s, RtcstreamRole role,
    std::string &error);

IceConfig ice_config (const CommonSettings &s);

extern const gchar *const uri_protocols[];
// uri_protocols plus the schemes of one element only (whip+ for the sink,
// whep+ for the source).
const gchar *const *uri_protocols_for (GstURIType type);

// Where an element keeps its CommonSettings and the lock guarding them.
struct SettingsAccess {
  std::mutex *lock;
  CommonSettings *settings;
};

// GstURIHandler for rtcstream:// and rtcstreams://, the same for both
// elements but for the URI type and where the settings live.
template <GstURIType Type, SettingsAccess (*Get) (GstURIHandler *)>
void
uri_handler_init (gpointer g_iface, gpointer)
{
  auto *iface = static_cast<GstURIHandlerInterface *> (g_iface);
  iface->get_type = [] (GType) { return Type; };
  iface->get_protocols = [] (GType) -> const gchar *const * {
    return uri_protocols_for (Type);
  };
  iface->get_uri = [] (GstURIHandler *handler) -> gchar * {
    SettingsAccess a = Get (handler);
    std::lock_guard<std::mutex> lk (*a.lock);
    return a.settings->uri.empty () ? nullptr : g_strdup (a.settings->uri.c_str ());
  };
  iface->set_uri = [] (GstURIHandler *handler, const gchar *uri, GError **error) -> gboolean {
    SettingsAccess a = Get (handler);
    std::string err;
    std::lock_guard<std::mutex> lk (*a.lock);
    if (!apply_uri (*a.settings, uri, err)) {
      g_set_error_literal (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI, err.c_str ());
      return FALSE;
    }
    return TRUE;
  };
}

}  // namespace rtcstream
