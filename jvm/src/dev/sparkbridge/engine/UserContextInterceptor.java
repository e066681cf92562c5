package dev.sparkbridge.engine;

import java.lang.reflect.Method;

import org.apache.spark.sql.catalyst.CurrentUserContext;
import org.sparkproject.connect.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import org.sparkproject.connect.grpc.Metadata;
import org.sparkproject.connect.grpc.ServerCall;
import org.sparkproject.connect.grpc.ServerCallHandler;
import org.sparkproject.connect.grpc.ServerInterceptor;

/**
 * Makes {@code current_user()} and table owners the session's user on a Spark Connect engine.
 *
 * <p>Spark Thrift Server sets {@link CurrentUserContext#CURRENT_USER} to the session's user
 * around every operation; that thread-local is what {@code current_user()} (and
 * {@code user()}, {@code session_user()}) resolves to, and what a new table records as its
 * owner. A Spark Connect server never sets it, so both fall back to the server process's OS
 * user. This interceptor sets it, for the duration of each request callback, to the
 * request's {@code user_context.user_id}. The bridge rewrites that field to the
 * authenticated user on every request, and the engine accepts requests from the bridge only
 * (its listener is on loopback and it requires the bridge's secret).
 *
 * <p>It must wrap {@code onHalfClose}: that is where gRPC invokes ExecutePlan's handler, which
 * constructs the execution thread. {@code CURRENT_USER} is an InheritableThreadLocal, so
 * that thread (analysis, optimisation, command execution) inherits the user. AnalyzePlan
 * runs on the callback thread itself. The previous value is restored afterwards, because
 * gRPC reuses its threads for other sessions.
 *
 * <p>Enabled with {@code spark.connect.grpc.interceptor.classes}; the bridge sets it for
 * every engine it launches.
 */
public final class UserContextInterceptor implements ServerInterceptor {
  /** getUserContext() of each request class, or null when the class has none. */
  private static final ClassValue<Method> USER_CONTEXT = new ClassValue<Method>() {
    @Override
    protected Method computeValue(Class<?> type) {
      try {
        return type.getMethod("getUserContext");
      } catch (NoSuchMethodException e) {
        return null;
      }
    }
  };

  public UserContextInterceptor() {}

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    return new SimpleForwardingServerCallListener<ReqT>(next.startCall(call, headers)) {
      private volatile String user;

      @Override
      public void onMessage(ReqT message) {
        String u = userOf(message);
        if (u != null) {
          user = u;
        }
        String prev = enter();
        try {
          super.onMessage(message);
        } finally {
          CurrentUserContext.CURRENT_USER().set(prev);
        }
      }

      @Override
      public void onHalfClose() {
        String prev = enter();
        try {
          super.onHalfClose();
        } finally {
          CurrentUserContext.CURRENT_USER().set(prev);
        }
      }

      private String enter() {
        String prev = CurrentUserContext.CURRENT_USER().get();
        if (user != null) {
          CurrentUserContext.CURRENT_USER().set(user);
        }
        return prev;
      }
    };
  }

  /** The request's user_context.user_id, or null. */
  static String userOf(Object message) {
    if (message == null) {
      return null;
    }
    Method m = USER_CONTEXT.get(message.getClass());
    if (m == null) {
      return null;
    }
    try {
      Object ctx = m.invoke(message);
      if (ctx == null) {
        return null;
      }
      Object id = ctx.getClass().getMethod("getUserId").invoke(ctx);
      return id instanceof String && !((String) id).isEmpty() ? (String) id : null;
    } catch (ReflectiveOperationException e) {
      return null;
    }
  }
}
