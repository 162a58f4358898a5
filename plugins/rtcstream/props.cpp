// SPDX-License-Identifier: LGPL-2.1-or-later
#include "props.h"

#include "rtcstream/signallers/janus-signaller.h"
#include "rtcstream/signallers/loopback-signaller.h"
#include "rtcstream/signallers/whip-signaller.h"
#include "rtcstream/signallers/ws-signaller.h"
#include "rtcstream/turn.h"
#include "rtcstream/uri.h"

namespace rtcstream {

const gchar *const uri_protocols[] = {"rtcstream", "rtcstreams", "janus+http", "janus+https",
    "loopback", nullptr};

const gchar *const *
uri_protocols_for (GstURIType type)
{
  // Built once per element kind from the shared list.
  static const std::vector<const gchar *> sink = [] {
    std::vector<const gchar *> v;
    for (const gchar *const *p = uri_protocols; *p; p++)
      v.push_back (*p);
    v.insert (v.end (), {"whip+http", "whip+https", nullptr});
    return v;
  }();
  static const std::vector<const gchar *> src = [] {
    std::vector<const gchar *> v;
    for (const gchar *const *p = uri_protocols; *p; p++)
      v.push_back (*p);
    v.insert (v.end (), {"whep+http", "whep+https", nullptr});
    return v;
  }();
  return type == GST_URI_SINK ? sink.data () : src.data ();
}

namespace {

constexpr const char *kDefaultVideoCodecs = "VP8,H264,VP9";
constexpr const char *kDefaultAudioCodecs = "OPUS";

// Values of ice-transport-policy (nicks as webrtcbin's own property).
enum IceTransportPolicy { ICE_TRANSPORT_POLICY_ALL, ICE_TRANSPORT_POLICY_RELAY };

GType
ice_transport_policy_get_type ()
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {ICE_TRANSPORT_POLICY_ALL, "Any path: direct, through NAT or through a TURN relay", "all"},
    {ICE_TRANSPORT_POLICY_RELAY, "Only through the TURN relays of turn-servers", "relay"},
    {0, nullptr, nullptr},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("RtcstreamIceTransportPolicy", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

}  // namespace

void
install_message_signals (GObjectClass *klass, guint ids[N_MESSAGE_SIGNALS])
{
  GType type = G_TYPE_FROM_CLASS (klass);
  ids[SIGNAL_DATA_CHANNEL_OPENED] = g_signal_new ("data-channel-opened", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr,
      nullptr, G_TYPE_NONE, 1, G_TYPE_STRING);
  ids[SIGNAL_TEXT_MESSAGE] = g_signal_new ("text-message", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
      G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  ids[SIGNAL_BINARY_MESSAGE] = g_signal_new ("binary-message", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr,
      nullptr, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BYTES);
}

DataChannels::Handlers
message_signal_handlers (GstElement *element, const guint ids[N_MESSAGE_SIGNALS],
    std::function<std::string (const std::string &session)> peer_of)
{
  DataChannels::Handlers h;
  guint opened = ids[SIGNAL_DATA_CHANNEL_OPENED], text_id = ids[SIGNAL_TEXT_MESSAGE],
        binary_id = ids[SIGNAL_BINARY_MESSAGE];
  h.opened = [element, opened, peer_of] (const std::string &session) {
    std::string peer = peer_of (session);
    if (!peer.empty ())
      g_signal_emit (element, opened, 0, peer.c_str ());
  };
  h.message = [element, text_id, binary_id, peer_of] (const std::string &session,
                  const std::string *text, GBytes *bytes) {
    std::string peer = peer_of (session);
    if (peer.empty ())
      return;
    if (text)
      g_signal_emit (element, text_id, 0, peer.c_str (), text->c_str ());
    else
      g_signal_emit (element, binary_id, 0, peer.c_str (), bytes);
  };
  return h;
}

void
install_common_properties (GObjectClass *klass, const char *role_word)
{
  const auto flags = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);
  std::string uri_blurb = std::string ("Where to ") + role_word +
      ": rtcstream://HOST:PORT/STREAM (websocket to rtcstream-signalling) or "
      "rtcstreams://HOST:PORT/STREAM (TLS), or "
      "janus+http://HOST:8088/janus?room=ROOM&display=NAME (a Janus VideoRoom), or " +
      (std::string (role_word) == "publish" ? "whip+http(s)://HOST:PORT/PATH (a WHIP endpoint)"
                                            : "whep+http(s)://HOST:PORT/PATH (a WHEP endpoint)") +
      ", or loopback://LINK (for tests: an rtcstreamsink and rtcstreamsrc of this process "
      "with the same LINK, no server). Ignored when a signaller is set";
  g_object_class_install_property (klass, PROP_URI,
      g_param_spec_string ("uri", "URI", g_intern_string (uri_blurb.c_str ()), nullptr, flags));
  g_object_class_install_property (klass, PROP_STUN_SERVER,
      g_param_spec_string ("stun-server", "STUN server",
          "STUN server as stun://HOST:PORT, to learn this host's public address "
          "(not needed on a LAN)", nullptr, flags));
  g_object_class_install_property (klass, PROP_TURN_SERVERS,
      gst_param_spec_array ("turn-servers", "TURN servers",
          "TURN relays as turn(s)://USER:PASSWORD@HOST:PORT, for peers behind NATs "
          "that block direct paths, e.g. turn-servers='<\"turn://u:p@host:3478\">'",
          g_param_spec_string ("turn-server", "TURN server", "One TURN server URI",
              nullptr, (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)),
          flags));
  g_object_class_install_property (klass, PROP_SIGNALLER,
      g_param_spec_object ("signaller", "Signaller",
          "The signalling transport (an RtcstreamSignaller). Defaults to the websocket "
          "signaller made from the uri; applications may set their own",
          RTCSTREAM_TYPE_SIGNALLER, flags));
  g_object_class_install_property (klass, PROP_VIDEO_CODECS,
      g_param_spec_string ("video-codecs", "Video codecs",
          "Video codecs in order of preference, comma separated (VP8, H264, VP9). "
          "The first one the peer also accepts is used",
          kDefaultVideoCodecs, flags));
  g_object_class_install_property (klass, PROP_AUTH_TOKEN,
      g_param_spec_string ("auth-token", "Auth token",
          "Token sent as 'Authorization: Bearer TOKEN': to rtcstream-signalling "
          "(rtcstream(s):// URIs) on the websocket upgrade, to WHIP/WHEP endpoints "
          "(whip+/whep+http(s):// URIs) with every request, or to a signaller with an "
          "auth-token property. A missing, wrong or expired one, or one without the scope "
          "(publish or watch the stream), fails with an error naming auth-token",
          nullptr, flags));
  g_object_class_install_property (klass, PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file",
          "For rtcstreams:// URIs: PEM file of the certificate authorities to trust "
          "(e.g. a self-signed server certificate); unset uses the system's trust store",
          nullptr, flags));
  g_object_class_install_property (klass, PROP_ICE_TRANSPORT_POLICY,
      g_param_spec_enum ("ice-transport-policy", "ICE transport policy",
          "relay forces every session through the TURN relays of turn-servers (needs at "
          "least one, or a WHIP/WHEP endpoint that announces one; no direct or "
          "NAT-traversing path is tried, e.g. to hide this host's addresses or to test a "
          "TURN set-up); all lets ICE pick any path",
          ice_transport_policy_get_type (), ICE_TRANSPORT_POLICY_ALL, flags));
  g_object_class_install_property (klass, PROP_ICE_TCP,
      g_param_spec_boolean ("ice-tcp", "ICE over TCP",
          "Also offer and try TCP paths (RFC 6544 host candidates). Off by default: media "
          "over TCP waits for every lost packet (head-of-line blocking) and hides loss from "
          "congestion control, and libnice nominates the first working host pair, which "
          "was often a TCP one on a lossy link or a host with several interfaces. Where UDP "
          "is blocked, a TURN server over TCP or TLS (turn-servers with ?transport=tcp, or "
          "turns://) carries the session instead",
          FALSE, flags));
  g_object_class_install_property (klass, PROP_RECONNECT_TIMEOUT,
      g_param_spec_int ("reconnect-timeout", "Reconnect timeout",
          "When the connection to the signalling server drops (rtcstream-signalling "
          "restarted, a network outage; with Janus, its event poll fails): how long (ms) to "
          "try to get it back, with backoff, before failing with an error. Meanwhile running "
          "sessions keep streaming and a warning is posted; once back, the sink registers "
          "its stream again, both claim their running sessions again, and a src without a "
          "session joins again. -1 tries forever, 0 fails at once. WHIP/WHEP keep no "
          "connection; see docs/elements.md for what each signaller does",
          -1, G_MAXINT, kDefaultReconnectTimeoutMs, flags));
  g_object_class_install_property (klass, PROP_AUDIO_CODECS,
      g_param_spec_string ("audio-codecs", "Audio codecs",
          "Audio codecs in order of preference, comma separated (OPUS)",
          kDefaultAudioCodecs, flags));
}

void
init_common_settings (CommonSettings &s)
{
  std::string err;
  parse_codec_list (kDefaultVideoCodecs, MediaKind::Video, s.video_codecs, err);
  parse_codec_list (kDefaultAudioCodecs, MediaKind::Audio, s.audio_codecs, err);
}

namespace {

// A URI that parse checks and takes the stream's name from (a janus+ or a
// loopback URI); on failure fills error.
bool
apply_named_uri (CommonSettings &s, const char *uri,
    gboolean (*parse) (const gchar *uri, gchar **name, GError **error), std::string &error)
{
  g_autoptr (GError) err = nullptr;
  g_autofree gchar *name = nullptr;
  if (!parse (uri, &name, &err)) {
    error = err->message;
    return false;
  }
  s.uri_error.clear ();
  s.uri = uri;
  s.stream_name = name;
  s.ws_url.clear ();
  return true;
}

}  // namespace

bool
apply_uri (CommonSettings &s, const char *uri, std::string &error)
{
  if (!uri || !*uri) {
    s.uri.clear ();
    s.stream_name.clear ();
    s.ws_url.clear ();
    return true;
  }
  // Janus VideoRoom (the signaller is made from the whole URI at start), or
  // in-process pairing (the link is the stream name).
  if (rtcstream_janus_uri_is_janus (uri))
    return apply_named_uri (s, uri, rtcstream_janus_uri_parse, error);
  if (rtcstream_loopback_uri_is_loopback (uri))
    return apply_named_uri (s, uri, rtcstream_loopback_uri_parse, error);
  StreamUri parsed;
  if (!parse_stream_uri (uri, parsed, error))
    return false;
  s.uri_error.clear ();
  s.uri = uri;
  s.stream_name = parsed.stream;
  s.ws_url = parsed.ws_url;
  return true;
}

bool
set_common_property (GstElement *element, CommonSettings &s, guint prop_id,
    const GValue *value)
{
  std::string error;
  switch (prop_id) {
    case PROP_URI:
      if (!apply_uri (s, g_value_get_string (value), error)) {
        s.uri_error = error;
        GST_ELEMENT_WARNING (element, RESOURCE, SETTINGS, ("%s", error.c_str ()), (nullptr));
      }
      return true;
    case PROP_STUN_SERVER:
      s.stun_server = g_value_get_string (value) ? g_value_get_string (value) : "";
      return true;
    case PROP_TLS_CA_FILE:
      s.tls_ca_file = g_value_get_string (value) ? g_value_get_string (value) : "";
      return true;
    case PROP_AUTH_TOKEN:
      s.auth_token = g_value_get_string (value) ? g_value_get_string (value) : "";
      return true;
    case PROP_TURN_SERVERS:
      s.turn_servers.clear ();
      for (guint i = 0; i < gst_value_array_get_size (value); i++) {
        const GValue *v = gst_value_array_get_value (value, i);
        if (G_VALUE_HOLDS_STRING (v) && g_value_get_string (v))
          s.turn_servers.emplace_back (g_value_get_string (v));
      }
      s.turn_error.clear ();
      if (!check_turn_uris (s.turn_servers, s.turn_error))
        GST_ELEMENT_WARNING (element, RESOURCE, SETTINGS, ("%s", s.turn_error.c_str ()),
            (nullptr));
      return true;
    case PROP_ICE_TRANSPORT_POLICY:
      s.relay_only = g_value_get_enum (value) == ICE_TRANSPORT_POLICY_RELAY;
      return true;
    case PROP_ICE_TCP:
      s.ice_tcp = g_value_get_boolean (value);
      return true;
    case PROP_RECONNECT_TIMEOUT:
      s.reconnect_timeout_ms = g_value_get_int (value);
      return true;
    case PROP_SIGNALLER: {
      auto *sig = static_cast<RtcstreamSignaller *> (g_value_get_object (value));
      s.signaller = Ref<RtcstreamSignaller>::take_ref (sig);
      return true;
    }
    case PROP_VIDEO_CODECS:
    case PROP_AUDIO_CODECS: {
      MediaKind kind = prop_id == PROP_VIDEO_CODECS ? MediaKind::Video : MediaKind::Audio;
      auto &list = kind == MediaKind::Video ? s.video_codecs : s.audio_codecs;
      const char *str = g_value_get_string (value);
      std::string &kind_error = s.codec_error[kind == MediaKind::Video ? 0 : 1];
      kind_error.clear ();
      if (!parse_codec_list (str ? str : "", kind, list, error)) {
        kind_error = error;
        GST_ELEMENT_WARNING (element, RESOURCE, SETTINGS, ("%s", error.c_str ()), (nullptr));
      }
      return true;
    }
    default:
      return false;
  }
}

bool
get_common_property (const CommonSettings &s, guint prop_id, GValue *value)
{
  switch (prop_id) {
    case PROP_URI:
      g_value_set_string (value, s.uri.empty () ? nullptr : s.uri.c_str ());
      return true;
    case PROP_STUN_SERVER:
      g_value_set_string (value, s.stun_server.empty () ? nullptr : s.stun_server.c_str ());
      return true;
    case PROP_TLS_CA_FILE:
      g_value_set_string (value, s.tls_ca_file.empty () ? nullptr : s.tls_ca_file.c_str ());
      return true;
    case PROP_AUTH_TOKEN:
      g_value_set_string (value, s.auth_token.empty () ? nullptr : s.auth_token.c_str ());
      return true;
    case PROP_ICE_TRANSPORT_POLICY:
      g_value_set_enum (value, s.relay_only ? ICE_TRANSPORT_POLICY_RELAY
                                            : ICE_TRANSPORT_POLICY_ALL);
      return true;
    case PROP_ICE_TCP:
      g_value_set_boolean (value, s.ice_tcp);
      return true;
    case PROP_RECONNECT_TIMEOUT:
      g_value_set_int (value, s.reconnect_timeout_ms);
      return true;
    case PROP_TURN_SERVERS:
      for (const std::string &t : s.turn_servers) {
        GValue v = G_VALUE_INIT;
        g_value_init (&v, G_TYPE_STRING);
        g_value_set_string (&v, t.c_str ());
        gst_value_array_append_and_take_value (value, &v);
      }
      return true;
    case PROP_SIGNALLER:
      g_value_set_object (value, s.signaller.get ());
      return true;
    case PROP_VIDEO_CODECS:
      g_value_take_string (value, g_strdup (codec_list_to_string (s.video_codecs).c_str ()));
      return true;
    case PROP_AUDIO_CODECS:
      g_value_take_string (value, g_strdup (codec_list_to_string (s.audio_codecs).c_str ()));
      return true;
    default:
      return false;
  }
}

namespace {

Ref<RtcstreamSignaller>
make_signaller (const CommonSettings &s, RtcstreamRole role, std::string &error)
{
  using SignallerRef = Ref<RtcstreamSignaller>;
  for (const std::string *e : {&s.uri_error, &s.codec_error[0], &s.codec_error[1],
           &s.turn_error, &s.ladder_error}) {
    if (!e->empty ()) {
      error = *e;
      return {};
    }
  }
  if (s.signaller) {
    g_object_set (s.signaller.get (), "role", role, nullptr);
    // The settings an element passes on, to a signaller that takes them.
    if (RTCSTREAM_IS_BASE_SIGNALLER (s.signaller.get ())) {
      if (!s.auth_token.empty ())
        g_object_set (s.signaller.get (), "auth-token", s.auth_token.c_str (), nullptr);
      if (!s.tls_ca_file.empty ())
        g_object_set (s.signaller.get (), "tls-ca-file", s.tls_ca_file.c_str (), nullptr);
      if (s.reconnect_timeout_ms != kDefaultReconnectTimeoutMs)
        g_object_set (s.signaller.get (), "reconnect-timeout", s.reconnect_timeout_ms, nullptr);
    }
    return s.signaller;
  }
  StreamUri http;
  std::string ignored;
  if (!s.uri.empty () && parse_stream_uri (s.uri, http, ignored) && !http.http_protocol.empty ()) {
    // WHIP publishes and WHEP watches: the other one is a user mistake.
    const char *want = role == RTCSTREAM_ROLE_PRODUCER ? "whip" : "whep";
    if (http.http_protocol != want) {
      error = "The URI '" + s.uri + "' is a " + http.http_protocol + "+ URI, but " +
          (role == RTCSTREAM_ROLE_PRODUCER
                  ? "rtcstreamsink publishes: use whip+http(s)://... here, and whep+ URIs "
                    "with rtcstreamsrc"
                  : "rtcstreamsrc watches: use whep+http(s)://... here, and whip+ URIs "
                    "with rtcstreamsink");
      return {};
    }
    auto sig = SignallerRef::adopt (
        RTCSTREAM_SIGNALLER (rtcstream_whip_signaller_new (http.http_url.c_str ())));
    g_object_set (sig.get (), "role", role, "stream-name", s.stream_name.c_str (),
        "auth-token", s.auth_token.empty () ? nullptr : s.auth_token.c_str (),
        "tls-ca-file", s.tls_ca_file.empty () ? nullptr : s.tls_ca_file.c_str (), nullptr);
    return sig;
  }
  if (rtcstream_loopback_uri_is_loopback (s.uri.c_str ()))
    return SignallerRef::adopt (RTCSTREAM_SIGNALLER (
        rtcstream_loopback_signaller_new (role, s.stream_name.c_str ())));
  if (rtcstream_janus_uri_is_janus (s.uri.c_str ())) {
    g_autoptr (GError) err = nullptr;
    RtcstreamJanusSignaller *janus = rtcstream_janus_signaller_new_from_uri (s.uri.c_str (), &err);
    if (!janus) {
      error = err->message;
      return {};
    }
    auto sig = SignallerRef::adopt (RTCSTREAM_SIGNALLER (janus));
    g_object_set (sig.get (), "role", role,
        "tls-ca-file", s.tls_ca_file.empty () ? nullptr : s.tls_ca_file.c_str (), nullptr);
    return sig;
  }
  if (s.ws_url.empty ()) {
    error = "No uri set: set uri=rtcstream://HOST:PORT/STREAM (e.g. "
            "rtcstream://127.0.0.1:8443/cam), or set a signaller";
    return {};
  }
  auto sig = SignallerRef::adopt (
      RTCSTREAM_SIGNALLER (rtcstream_ws_signaller_new (s.ws_url.c_str ())));
  g_object_set (sig.get (), "role", role, "stream-name", s.stream_name.c_str (),
      "auth-token", s.auth_token.empty () ? nullptr : s.auth_token.c_str (),
      "tls-ca-file", s.tls_ca_file.empty () ? nullptr : s.tls_ca_file.c_str (), nullptr);
  return sig;
}

// A signaller that may learn ICE servers from its server (rtcstream-signalling's
// welcome, a WHIP/WHEP answer) may bring the TURN server that relay-only
// needs; if none comes, the session fails then, saying so.
bool
announces_ice_servers (RtcstreamSignaller *sig)
{
  return rtcstream_signaller_get_features (sig) &
      RTCSTREAM_SIGNALLER_FEATURE_ANNOUNCES_ICE_SERVERS;
}

}  // namespace

Ref<RtcstreamSignaller>
signaller_for_start (const CommonSettings &s, RtcstreamRole role, std::string &error)
{
  Ref<RtcstreamSignaller> sig = make_signaller (s, role, error);
  if (sig && !s.signaller && RTCSTREAM_IS_BASE_SIGNALLER (sig.get ()))
    g_object_set (sig.get (), "reconnect-timeout", s.reconnect_timeout_ms, nullptr);
  if (sig && s.relay_only && s.turn_servers.empty () && !announces_ice_servers (sig.get ())) {
    error = "ice-transport-policy=relay sends everything through TURN relays, but "
            "turn-servers is empty: set turn-servers='<\"turn://USER:PASSWORD@HOST:PORT\">' "
            "or use ice-transport-policy=all";
    return {};
  }
  return sig;
}

IceConfig
ice_config (const CommonSettings &s)
{
  IceConfig c;
  IceServer server;
  if (!s.stun_server.empty () && IceServer::from_webrtcbin_uri (s.stun_server, server))
    c.servers.push_back (server);
  for (const std::string &uri : s.turn_servers)  // checked when they were set
    if (IceServer::from_webrtcbin_uri (uri, server))
      c.servers.push_back (server);
  c.relay_only = s.relay_only;
  c.tcp = s.ice_tcp;
  return c;
}

}  // namespace rtcstream
