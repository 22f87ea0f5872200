// Result<T>: a value or an Error, for outcomes a caller is expected to handle
// (a malformed frame, a full store). Exceptions stay for bugs and logistics.
//
// It lives in base/, the root of kiln's layers (base <- proto <- cas <- exec
// <- everything else), so every component can use it; like the logging seam
// (log.h) it is kiln's vocabulary and sits in namespace kiln, not
// kiln::base. It is a deliberately small subset of C++23 std::expected; swap
// it for that when the project moves to C++23.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace kiln {

// Categories a caller may branch on; the message is for people.
enum class Errc {
  kInvalidArgument,  // the input is malformed or out of range
  kNotFound,
  kCorrupt,  // stored or received bytes do not match their digest
  kPermissionDenied,
  kResourceExhausted,  // map, disk or a configured limit is full
  kUnavailable,        // a peer or resource cannot be reached now
  kIo,                 // an operating-system call failed
  kInternal,
};

struct Error {
  Errc code = Errc::kInternal;
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<Error>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Result of an operation with no value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace kiln
