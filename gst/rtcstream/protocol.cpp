// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Parsing validates every field before a message is built, so code past
// parse_*_message () never sees a wrong type, an empty id or an oversize
// meta. Nothing here throws: nlohmann::json is used with exceptions turned
// off for parsing, every access is type-checked first, and serialization
// replaces invalid UTF-8 rather than failing.
#include "protocol.h"

#include <limits>
#include <type_traits>
#include <utility>

namespace rtcstream::protocol {

namespace {

using nlohmann::json;
// Output keeps fields in the order written ("type" first), for people
// reading logs.
using ojson = nlohmann::ordered_json;

// Deeper documents are refused before parsing: nothing in the protocol nests
// this deep, and it keeps the recursive parts of nlohmann::json (dump,
// comparison) on a short stack whatever a peer sends.
constexpr std::size_t kMaxJsonDepth = 32;

template <typename J>
std::string
dump (const J &value)
{
  return value.dump (-1, ' ', false, J::error_handler_t::replace);
}

std::string
in_quotes (std::string_view s)
{
  std::string out = "\"";
  out.append (s);
  out += '"';
  return out;
}

std::optional<Role>
role_from_name (std::string_view name)
{
  if (name == "producer")
    return Role::Producer;
  if (name == "consumer")
    return Role::Consumer;
  if (name == "listener")
    return Role::Listener;
  return std::nullopt;
}

// Reads the fields of one JSON object. The first problem is recorded in
// `error` and later reads return defaults, so a parse function reads all its
// fields in a row and checks failed () once at the end.
class Fields {
public:
  Fields (const json &obj, std::string where, const Limits &limits)
      : obj_ (obj), where_ (std::move (where)), limits_ (limits) {}

  bool failed () const { return !error.details.empty (); }

  // A required string, possibly empty.
  std::string string (const char *name)
  {
    const json *v = find (name);
    if (!v) {
      fail (name, "is missing; it must be a string");
      return {};
    }
    if (!v->is_string ()) {
      fail (name, "must be a string");
      return {};
    }
    return v->get<std::string> ();
  }

  // A required peer or session id: a non-empty string within max_id_bytes.
  std::string id (const char *name)
  {
    const json *v = find (name);
    if (!v) {
      fail (name, "is missing; it must be a non-empty string id");
      return {};
    }
    return check_id (name, *v);
  }

  // An optional id: absent or null gives nullopt.
  std::optional<std::string> optional_id (const char *name)
  {
    const json *v = find (name);
    if (!v || v->is_null ())
      return std::nullopt;
    std::string s = check_id (name, *v);
    if (failed ())
      return std::nullopt;
    return s;
  }

  // An optional string: absent or null gives nullopt.
  std::optional<std::string> optional_string (const char *name)
  {
    const json *v = find (name);
    if (!v || v->is_null ())
      return std::nullopt;
    if (!v->is_string ()) {
      fail (name, "must be a string or null");
      return std::nullopt;
    }
    return v->get<std::string> ();
  }

  // Meta data: absent or null gives null, else an object within max_meta_bytes.
  json meta (const char *name)
  {
    const json *v = find (name);
    if (!v || v->is_null ())
      return nullptr;
    if (!v->is_object ()) {
      fail (name, "must be a JSON object or null");
      return nullptr;
    }
    if (dump (*v).size () > limits_.max_meta_bytes) {
      fail (name, "is larger than the limit of " +
          std::to_string (limits_.max_meta_bytes) + " bytes; send less meta data");
      return nullptr;
    }
    return *v;
  }

  std::vector<Role> roles (const char *name)
  {
    const json *v = find (name);
    if (!v) {
      fail (name, "is missing; it must be an array of roles (\"producer\", "
          "\"consumer\", \"listener\")");
      return {};
    }
    if (!v->is_array ()) {
      fail (name, "must be an array of roles (\"producer\", \"consumer\", \"listener\")");
      return {};
    }
    std::vector<Role> roles;
    for (const json &item : *v) {
      std::optional<Role> role;
      if (item.is_string ())
        role = role_from_name (item.get_ref<const std::string &> ());
      if (!role) {
        fail (name, "contains " + (item.is_string () ? in_quotes (item.get_ref<const std::string &> ())
            : std::string ("a non-string")) + ", which is not a role; use \"producer\", "
            "\"consumer\" or \"listener\"");
        return {};
      }
      roles.push_back (*role);
    }
    return roles;
  }

  // Optional ICE servers: absent gives none, else
  // [{"urls": "u" | ["u", ...], "username"?: "...", "credential"?: "..."}, ...]
  // with at most 16 servers of at most 16 URLs.
  std::vector<IceServer> ice_servers (const char *name)
  {
    const json *v = find (name);
    if (!v || v->is_null ())
      return {};
    const char *shape = "must be an array of {\"urls\": [...], \"username\", \"credential\"}";
    if (!v->is_array () || v->size () > 16) {
      fail (name, std::string (shape) + " (16 at most)");
      return {};
    }
    std::vector<IceServer> servers;
    for (const json &item : *v) {
      if (!item.is_object ()) {
        fail (name, shape);
        return {};
      }
      IceServer s;
      const json *urls = item.contains ("urls") ? &item["urls"] : nullptr;
      if (urls && urls->is_string ())
        s.urls.push_back (urls->get<std::string> ());
      else if (urls && urls->is_array () && !urls->empty () && urls->size () <= 16) {
        for (const json &u : *urls) {
          if (!u.is_string ()) {
            fail (name, shape);
            return {};
          }
          s.urls.push_back (u.get<std::string> ());
        }
      } else {
        fail (name, std::string (shape) + ": \"urls\" is missing or empty");
        return {};
      }
      Fields entry (item, "an entry of \"" + std::string (name) + "\" in " + where_, limits_);
      s.username = entry.optional_string ("username").value_or ("");
      s.credential = entry.optional_string ("credential").value_or ("");
      if (entry.failed ()) {
        error = entry.error;
        return {};
      }
      servers.push_back (std::move (s));
    }
    return servers;
  }

  // A list of peers: [{"id": "...", "meta": {...} | null}, ...].
  std::vector<PeerInfo> peers (const char *name)
  {
    const json *v = find (name);
    if (!v) {
      fail (name, "is missing; it must be an array of peers");
      return {};
    }
    if (!v->is_array ()) {
      fail (name, "must be an array of peers");
      return {};
    }
    std::vector<PeerInfo> peers;
    for (const json &item : *v) {
      if (!item.is_object ()) {
        fail (name, "must only contain objects with an \"id\" and a \"meta\"");
        return {};
      }
      Fields entry (item, "an entry of \"" + std::string (name) + "\" in " + where_, limits_);
      PeerInfo info;
      info.id = entry.id ("id");
      info.meta = entry.meta ("meta");
      if (entry.failed ()) {
        error = entry.error;
        return {};
      }
      peers.push_back (std::move (info));
    }
    return peers;
  }

  // A required nested object, or nullptr when absent.
  const json *object (const char *name)
  {
    const json *v = find (name);
    if (v && !v->is_object ()) {
      fail (name, "must be a JSON object");
      return nullptr;
    }
    return v;
  }

  const json *find (const char *name) const
  {
    if (failed ())
      return nullptr;
    auto it = obj_.find (name);
    return it == obj_.end () ? nullptr : &*it;
  }

  const std::string &where () const { return where_; }
  const Limits &limits () const { return limits_; }

  void fail (const char *name, const std::string &problem)
  {
    if (failed ())
      return;
    error.code = ErrorCode::InvalidMessage;
    error.details = "The \"" + std::string (name) + "\" field of " + where_ + " " +
        problem + ".";
  }

  Error error;

private:
  std::string check_id (const char *name, const json &v)
  {
    if (!v.is_string ()) {
      fail (name, "must be a string id");
      return {};
    }
    const auto &s = v.get_ref<const std::string &> ();
    if (s.empty ()) {
      fail (name, "is empty; it must name a peer or session");
      return {};
    }
    if (s.size () > limits_.max_id_bytes) {
      fail (name, "is longer than the limit of " + std::to_string (limits_.max_id_bytes) +
          " bytes");
      return {};
    }
    return s;
  }

  const json &obj_;
  std::string where_;
  const Limits &limits_;
};

Error
invalid (std::string details)
{
  return Error { std::move (details), ErrorCode::InvalidMessage };
}

// The outer checks shared by both directions: size, JSON, object, "type".
// On success `obj` holds the document and `type` its "type".
std::optional<Error>
parse_envelope (std::string_view text, const Limits &limits, json &obj, std::string &type)
{
  if (text.size () > limits.max_message_bytes) {
    return Error { "The message is " + std::to_string (text.size ()) +
        " bytes, over the limit of " + std::to_string (limits.max_message_bytes) +
        " bytes; send smaller messages (the server's limit is its --max-message-size).",
        ErrorCode::TooLarge };
  }
  if (nesting_depth (text, kMaxJsonDepth) > kMaxJsonDepth) {
    return invalid ("The message nests arrays or objects more than " +
        std::to_string (kMaxJsonDepth) + " levels deep; flatten it.");
  }
  obj = json::parse (text.begin (), text.end (), nullptr, false);
  if (obj.is_discarded ())
    return invalid ("The message is not valid JSON; send one JSON object per text frame.");
  if (!obj.is_object ())
    return invalid ("The message is JSON but not an object; send a JSON object with a \"type\" field.");
  auto it = obj.find ("type");
  if (it == obj.end ())
    return invalid ("The message has no \"type\" field; every message needs a string \"type\".");
  if (!it->is_string ())
    return invalid ("The \"type\" field of the message must be a string.");
  type = it->get<std::string> ();
  return std::nullopt;
}

std::optional<std::variant<Sdp, Ice>>
peer_body (Fields &f)
{
  const json *sdp = f.object ("sdp");
  const json *ice = f.object ("ice");
  if (f.failed ())
    return std::nullopt;
  if (sdp && ice) {
    f.fail ("sdp", "cannot come with an \"ice\" field in the same message; send them apart");
    return std::nullopt;
  }
  if (sdp) {
    Fields s (*sdp, "the \"sdp\" object of " + f.where (), f.limits ());
    Sdp out;
    out.type = s.string ("type");
    out.sdp = s.string ("sdp");
    if (!s.failed () && out.type != "offer" && out.type != "answer")
      s.fail ("type", "is " + in_quotes (out.type) + "; it must be \"offer\" or \"answer\"");
    if (s.failed ()) {
      f.error = s.error;
      return std::nullopt;
    }
    return std::variant<Sdp, Ice> (std::move (out));
  }
  if (ice) {
    Fields i (*ice, "the \"ice\" object of " + f.where (), f.limits ());
    Ice out;
    out.candidate = i.string ("candidate");
    const json *index = i.find ("sdpMLineIndex");
    if (!i.failed ()) {
      if (!index)
        i.fail ("sdpMLineIndex", "is missing; it must be the media line number (0, 1, ...)");
      else if (!index->is_number_unsigned () ||
          index->get<uint64_t> () > std::numeric_limits<uint32_t>::max ())
        i.fail ("sdpMLineIndex", "must be a non-negative integer media line number");
      else
        out.sdp_m_line_index = static_cast<uint32_t> (index->get<uint64_t> ());
    }
    if (i.failed ()) {
      f.error = i.error;
      return std::nullopt;
    }
    return std::variant<Sdp, Ice> (std::move (out));
  }
  f.fail ("sdp", "is missing; a \"peer\" message carries either an \"sdp\" or an \"ice\" object");
  return std::nullopt;
}

template <typename T, typename M>
ParseResult<T>
done (Fields &f, M &&msg)
{
  ParseResult<T> result;
  if (f.failed ())
    result.error = f.error;
  else
    result.message = T (std::forward<M> (msg));
  return result;
}

template <typename T>
ParseResult<T>
failure (Error error)
{
  ParseResult<T> result;
  result.error = std::move (error);
  return result;
}

Error
unknown_type (const std::string &type, const char *known)
{
  // Echo at most a short prefix of what the peer sent.
  std::string shown = type.size () > 64 ? type.substr (0, 64) + "..." : type;
  return Error { "The message type " + in_quotes (shown) + " is unknown; the known types are " +
      known + ".", ErrorCode::UnknownType };
}

std::string
where_of (const std::string &type)
{
  return "a " + in_quotes (type) + " message";
}

ojson
meta_or_null (const json &meta)
{
  return meta.is_object () ? ojson (meta) : ojson (nullptr);
}

ojson
roles_json (const std::vector<Role> &roles)
{
  ojson out = ojson::array ();
  for (Role r : roles)
    out.push_back (role_name (r));
  return out;
}

ojson
peers_json (const std::vector<PeerInfo> &peers)
{
  ojson out = ojson::array ();
  for (const PeerInfo &p : peers)
    out.push_back ({ { "id", p.id }, { "meta", meta_or_null (p.meta) } });
  return out;
}

ojson
offer_json (const std::optional<std::string> &offer)
{
  return offer ? ojson (*offer) : ojson (nullptr);
}

ojson
to_json (const Peer &m)
{
  ojson out = { { "type", "peer" }, { "sessionId", m.session_id } };
  if (const Sdp *sdp = std::get_if<Sdp> (&m.body))
    out["sdp"] = { { "type", sdp->type }, { "sdp", sdp->sdp } };
  else if (const Ice *ice = std::get_if<Ice> (&m.body))
    out["ice"] = { { "candidate", ice->candidate }, { "sdpMLineIndex", ice->sdp_m_line_index } };
  return out;
}

ojson
to_json (const EndSession &m)
{
  return { { "type", "endSession" }, { "sessionId", m.session_id } };
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded (Ts...) -> Overloaded<Ts...>;

}  // namespace

std::size_t
nesting_depth (std::string_view text, std::size_t limit)
{
  std::size_t depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          max_depth = depth;
          if (max_depth > limit)
            return max_depth;
        }
        break;
      case ']':
      case '}':
        if (depth > 0)
          --depth;
        break;
      default:
        break;
    }
  }
  return max_depth;
}


const char *
role_name (Role role)
{
  switch (role) {
    case Role::Producer:
      return "producer";
    case Role::Consumer:
      return "consumer";
    case Role::Listener:
      return "listener";
  }
  return "unknown";
}

const char *
error_code_name (ErrorCode code)
{
  switch (code) {
    case ErrorCode::Generic:
      return "error";
    case ErrorCode::InvalidMessage:
      return "invalid-message";
    case ErrorCode::UnknownType:
      return "unknown-type";
    case ErrorCode::TooLarge:
      return "too-large";
    case ErrorCode::UnknownPeer:
      return "unknown-peer";
    case ErrorCode::UnknownSession:
      return "unknown-session";
    case ErrorCode::NameTaken:
      return "name-taken";
    case ErrorCode::NotProducer:
      return "not-producer";
    case ErrorCode::LimitReached:
      return "limit-reached";
    case ErrorCode::NotAllowed:
      return "not-allowed";
    case ErrorCode::Unauthorized:
      return "unauthorized";
    case ErrorCode::Forbidden:
      return "forbidden";
  }
  return "error";
}

std::optional<ErrorCode>
error_code_from_name (std::string_view name)
{
  static constexpr ErrorCode all[] = { ErrorCode::Generic, ErrorCode::InvalidMessage,
    ErrorCode::UnknownType, ErrorCode::TooLarge, ErrorCode::UnknownPeer,
    ErrorCode::UnknownSession, ErrorCode::NameTaken, ErrorCode::NotProducer,
    ErrorCode::LimitReached, ErrorCode::NotAllowed, ErrorCode::Unauthorized,
    ErrorCode::Forbidden };
  for (ErrorCode code : all) {
    if (name == error_code_name (code))
      return code;
  }
  return std::nullopt;
}

ParseResult<ClientMessage>
parse_client_message (std::string_view text, const Limits &limits)
{
  json obj;
  std::string type;
  if (auto err = parse_envelope (text, limits, obj, type))
    return failure<ClientMessage> (std::move (*err));

  Fields f (obj, where_of (type), limits);
  if (type == "setPeerStatus") {
    SetPeerStatus m;
    m.roles = f.roles ("roles");
    m.meta = f.meta ("meta");
    m.peer_id = f.optional_id ("peerId");
    return done<ClientMessage> (f, std::move (m));
  }
  if (type == "startSession") {
    StartSessionRequest m;
    m.peer_id = f.id ("peerId");
    m.offer = f.optional_string ("offer");
    return done<ClientMessage> (f, std::move (m));
  }
  if (type == "endSession") {
    EndSession m;
    m.session_id = f.id ("sessionId");
    return done<ClientMessage> (f, std::move (m));
  }
  if (type == "peer") {
    Peer m;
    m.session_id = f.id ("sessionId");
    if (auto body = peer_body (f))
      m.body = std::move (*body);
    return done<ClientMessage> (f, std::move (m));
  }
  if (type == "list")
    return done<ClientMessage> (f, ListRequest {});
  if (type == "listConsumers")
    return done<ClientMessage> (f, ListConsumersRequest {});
  if (type == "setProtocolVersion") {
    SetProtocolVersion m;
    m.version = f.string ("version");
    if (!f.failed () && m.version.empty ())
      f.fail ("version", "is empty; send \"1.0\"");
    return done<ClientMessage> (f, std::move (m));
  }
  if (type == "resumeSession") {
    ResumeSession m;
    m.session_id = f.id ("sessionId");
    std::string as = f.string ("as");
    std::optional<Role> role = role_from_name (as);
    if (!f.failed () && (!role || *role == Role::Listener))
      f.fail ("as", "is " + in_quotes (as) + ", which is not a side of a session; use "
          "\"producer\" or \"consumer\"");
    else if (role)
      m.as = *role;
    return done<ClientMessage> (f, std::move (m));
  }
  return failure<ClientMessage> (unknown_type (type, "\"setPeerStatus\", \"startSession\", "
      "\"endSession\", \"peer\", \"list\", \"listConsumers\", \"setProtocolVersion\" and "
      "\"resumeSession\""));
}

ParseResult<ServerMessage>
parse_server_message (std::string_view text, const Limits &limits)
{
  json obj;
  std::string type;
  if (auto err = parse_envelope (text, limits, obj, type))
    return failure<ServerMessage> (std::move (*err));

  Fields f (obj, where_of (type), limits);
  if (type == "welcome") {
    Welcome m;
    m.peer_id = f.id ("peerId");
    m.ice_servers = f.ice_servers ("iceServers");
    return done<ServerMessage> (f, std::move (m));
  }
  if (type == "peerStatusChanged") {
    PeerStatusChanged m;
    m.peer_id = f.id ("peerId");
    m.roles = f.roles ("roles");
    m.meta = f.meta ("meta");
    return done<ServerMessage> (f, std::move (m));
  }
  if (type == "startSession") {
    StartSession m;
    m.peer_id = f.id ("peerId");
    m.session_id = f.id ("sessionId");
    m.offer = f.optional_string ("offer");
    return done<ServerMessage> (f, std::move (m));
  }
  if (type == "sessionStarted") {
    SessionStarted m;
    m.peer_id = f.id ("peerId");
    m.session_id = f.id ("sessionId");
    return done<ServerMessage> (f, std::move (m));
  }
  if (type == "endSession") {
    EndSession m;
    m.session_id = f.id ("sessionId");
    return done<ServerMessage> (f, std::move (m));
  }
  if (type == "peer") {
    Peer m;
    m.session_id = f.id ("sessionId");
    if (auto body = peer_body (f))
      m.body = std::move (*body);
    return done<ServerMessage> (f, std::move (m));
  }
  if (type == "list") {
    ListReply m;
    m.producers = f.peers ("producers");
    return done<ServerMessage> (f, std::move (m));
  }
  if (type == "listConsumers") {
    ListConsumersReply m;
    m.consumers = f.peers ("consumers");
    return done<ServerMessage> (f, std::move (m));
  }
  if (type == "roomJoined") {
    RoomJoined m;
    m.room = f.string ("room");
    m.participants = f.peers ("participants");
    return done<ServerMessage> (f, std::move (m));
  }
  if (type == "participantJoined" || type == "participantLeft") {
    std::string room = f.string ("room");
    std::string peer_id = f.id ("peerId");
    json meta = f.meta ("meta");
    if (type == "participantJoined")
      return done<ServerMessage> (f, ParticipantJoined{room, peer_id, meta});
    // "lost": optional, true or absent.
    const bool lost = obj.contains ("lost") && obj["lost"].is_boolean () && obj["lost"].get<bool> ();
    return done<ServerMessage> (f, ParticipantLeft{room, peer_id, meta, lost});
  }
  if (type == "error") {
    Error m;
    m.details = f.string ("details");
    // "code" is our extension: absent or unknown (a newer server) is Generic.
    std::optional<std::string> code = f.optional_string ("code");
    if (code) {
      if (auto c = error_code_from_name (*code))
        m.code = *c;
    }
    if (!f.failed () && m.details.empty ())
      m.details = "The server reported an error without details.";
    return done<ServerMessage> (f, std::move (m));
  }
  return failure<ServerMessage> (unknown_type (type, "\"welcome\", \"peerStatusChanged\", "
      "\"startSession\", \"sessionStarted\", \"endSession\", \"peer\", \"list\", "
      "\"listConsumers\", \"error\", \"roomJoined\", \"participantJoined\" and "
      "\"participantLeft\""));
}

std::string
serialize (const ClientMessage &msg)
{
  ojson out = std::visit (Overloaded {
    [] (const SetPeerStatus &m) {
      ojson j = { { "type", "setPeerStatus" }, { "roles", roles_json (m.roles) },
        { "meta", meta_or_null (m.meta) } };
      if (m.peer_id)
        j["peerId"] = *m.peer_id;
      return j;
    },
    [] (const StartSessionRequest &m) {
      return ojson { { "type", "startSession" }, { "peerId", m.peer_id },
        { "offer", offer_json (m.offer) } };
    },
    [] (const EndSession &m) { return to_json (m); },
    [] (const Peer &m) { return to_json (m); },
    [] (const ListRequest &) { return ojson { { "type", "list" } }; },
    [] (const ListConsumersRequest &) { return ojson { { "type", "listConsumers" } }; },
    [] (const SetProtocolVersion &m) {
      return ojson { { "type", "setProtocolVersion" }, { "version", m.version } };
    },
    [] (const ResumeSession &m) {
      return ojson { { "type", "resumeSession" }, { "sessionId", m.session_id },
        { "as", role_name (m.as) } };
    },
  }, msg);
  return dump (out);
}

std::string
serialize (const ServerMessage &msg)
{
  ojson out = std::visit (Overloaded {
    [] (const Welcome &m) {
      ojson j = { { "type", "welcome" }, { "peerId", m.peer_id } };
      if (!m.ice_servers.empty ()) {
        ojson list = ojson::array ();
        for (const IceServer &s : m.ice_servers) {
          ojson e = { { "urls", s.urls } };
          if (!s.username.empty ())
            e["username"] = s.username;
          if (!s.credential.empty ())
            e["credential"] = s.credential;
          list.push_back (std::move (e));
        }
        j["iceServers"] = std::move (list);
      }
      return j;
    },
    [] (const PeerStatusChanged &m) {
      return ojson { { "type", "peerStatusChanged" }, { "peerId", m.peer_id },
        { "roles", roles_json (m.roles) }, { "meta", meta_or_null (m.meta) } };
    },
    [] (const StartSession &m) {
      return ojson { { "type", "startSession" }, { "peerId", m.peer_id },
        { "sessionId", m.session_id }, { "offer", offer_json (m.offer) } };
    },
    [] (const SessionStarted &m) {
      return ojson { { "type", "sessionStarted" }, { "peerId", m.peer_id },
        { "sessionId", m.session_id } };
    },
    [] (const EndSession &m) { return to_json (m); },
    [] (const Peer &m) { return to_json (m); },
    [] (const ListReply &m) {
      return ojson { { "type", "list" }, { "producers", peers_json (m.producers) } };
    },
    [] (const ListConsumersReply &m) {
      return ojson { { "type", "listConsumers" }, { "consumers", peers_json (m.consumers) } };
    },
    [] (const Error &m) {
      return ojson { { "type", "error" }, { "details", m.details },
        { "code", error_code_name (m.code) } };
    },
    [] (const RoomJoined &m) {
      return ojson { { "type", "roomJoined" }, { "room", m.room },
        { "participants", peers_json (m.participants) } };
    },
    [] (const ParticipantJoined &m) {
      return ojson { { "type", "participantJoined" }, { "room", m.room },
        { "peerId", m.peer_id }, { "meta", meta_or_null (m.meta) } };
    },
    [] (const ParticipantLeft &m) {
      ojson j = { { "type", "participantLeft" }, { "room", m.room },
        { "peerId", m.peer_id }, { "meta", meta_or_null (m.meta) } };
      if (m.lost)
        j["lost"] = true;
      return j;
    },
  }, msg);
  return dump (out);
}

std::string
stream_name_from_meta (const nlohmann::json &meta)
{
  if (!meta.is_object ())
    return {};
  auto it = meta.find ("name");
  if (it == meta.end () || !it->is_string ())
    return {};
  return it->get<std::string> ();
}

std::string
room_from_meta (const nlohmann::json &meta)
{
  if (!meta.is_object ())
    return {};
  auto it = meta.find ("room");
  if (it == meta.end () || !it->is_string ())
    return {};
  return it->get<std::string> ();
}

std::string
room_stream_name (std::string_view room, std::string_view participant)
{
  return std::string (room) + ":" + std::string (participant);
}

std::string
room_name_problem (std::string_view name, const char *what)
{
  if (name.empty () || name.size () > 64)
    return std::string ("A ") + what + " name must be 1 to 64 characters long.";
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '_' || c == '.';
    if (!ok)
      return std::string ("A ") + what + " name may only contain ASCII letters, digits, '-', "
          "'_' and '.'; \"" + std::string (name) + "\" does not.";
  }
  return {};
}

}  // namespace rtcstream::protocol
