/*
 * featurestore test support: a real Apache Iceberg REST catalog server.
 *
 * The request handling is Apache Iceberg's own server-side code (CatalogHandlers, RESTObjectMapper
 * and the request/response parsers, the same code behind Iceberg's RESTCatalogAdapter and the
 * official REST fixture) over a JdbcCatalog on SQLite. Only the HTTP plumbing lives here; it uses
 * the JDK's com.sun.net.httpserver so no servlet container is needed.
 *
 * This class lives in org.apache.iceberg.rest because RESTObjectMapper.mapper() and
 * CatalogHandlers.commit(...) are package-private.
 *
 * Usage: FeaturestoreRestServer <port|0> <warehouse dir or file:// URI> <sqlite db path>
 * Prints "LISTENING <port>" on stdout once it accepts connections; logs go to stderr.
 * With -Dfeaturestore.exitOnStdinEof=true it exits when its stdin reaches EOF (parent died).
 */
package org.apache.iceberg.rest;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.iceberg.BaseTable;
import org.apache.iceberg.BaseTransaction;
import org.apache.iceberg.Table;
import org.apache.iceberg.Transaction;
import org.apache.iceberg.Transactions;
import org.apache.iceberg.catalog.Namespace;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.exceptions.AlreadyExistsException;
import org.apache.iceberg.exceptions.BadRequestException;
import org.apache.iceberg.exceptions.CommitFailedException;
import org.apache.iceberg.exceptions.CommitStateUnknownException;
import org.apache.iceberg.exceptions.ForbiddenException;
import org.apache.iceberg.exceptions.NamespaceNotEmptyException;
import org.apache.iceberg.exceptions.NoSuchNamespaceException;
import org.apache.iceberg.exceptions.NoSuchTableException;
import org.apache.iceberg.exceptions.NoSuchViewException;
import org.apache.iceberg.exceptions.NotAuthorizedException;
import org.apache.iceberg.exceptions.UnprocessableEntityException;
import org.apache.iceberg.exceptions.ValidationException;
import org.apache.iceberg.jdbc.JdbcCatalog;
import org.apache.iceberg.rest.requests.CommitTransactionRequest;
import org.apache.iceberg.rest.requests.CreateNamespaceRequest;
import org.apache.iceberg.rest.requests.CreateTableRequest;
import org.apache.iceberg.rest.requests.CreateViewRequest;
import org.apache.iceberg.rest.requests.RegisterTableRequest;
import org.apache.iceberg.rest.requests.RenameTableRequest;
import org.apache.iceberg.rest.requests.UpdateNamespacePropertiesRequest;
import org.apache.iceberg.rest.requests.UpdateTableRequest;
import org.apache.iceberg.rest.responses.ErrorResponse;
import org.apache.iceberg.shaded.com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.iceberg.shaded.com.fasterxml.jackson.databind.ObjectMapper;

/** HTTP front end for Iceberg's {@link CatalogHandlers} over a {@link JdbcCatalog}. */
public final class FeaturestoreRestServer {
  private static final int THREADS = 16;

  private final JdbcCatalog catalog;
  private final ObjectMapper mapper = RESTObjectMapper.mapper();
  /**
   * Serialises mutations inside this process. Optimistic concurrency is still Iceberg's: a commit
   * whose requirements no longer hold against the current metadata fails with 409. The lock only
   * keeps SQLite from seeing concurrent writers and makes multi-table transactions atomic with
   * respect to other requests to this server.
   */
  private final ReentrantLock writeLock = new ReentrantLock();

  private FeaturestoreRestServer(JdbcCatalog catalog) {
    this.catalog = catalog;
  }

  /** A response: status plus an optional object serialised with Iceberg's REST mapper. */
  private static final class Result {
    final int status;
    final Object body;

    Result(int status, Object body) {
      this.status = status;
      this.body = body;
    }
  }

  private static final Result NO_CONTENT = new Result(204, null);

  private static final byte[] CONFIG_JSON =
      "{\"defaults\":{},\"overrides\":{}}".getBytes(StandardCharsets.UTF_8);

  /** Thrown for requests that match no route. */
  private static final class NoRouteException extends RuntimeException {
    NoRouteException(String message) {
      super(message);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Routing (mirrors RESTCatalogAdapter.Route, without a {prefix})
  // ---------------------------------------------------------------------------------------------

  private Result route(String method, List<String> p, Map<String, String> query, byte[] body)
      throws IOException {
    int n = p.size();
    if (n < 2 || !"v1".equals(p.get(0))) {
      throw new NoRouteException("No route for request: " + method + " /" + String.join("/", p));
    }
    String root = p.get(1);

    if ("config".equals(root) && n == 2 && "GET".equals(method)) {
      // Written by hand: ConfigResponse's parser would touch Endpoint, which needs httpclient5.
      // Without an "endpoints" list, clients fall back to their default endpoint set.
      return new Result(200, CONFIG_JSON);
    }

    if ("tables".equals(root) && n == 3 && "rename".equals(p.get(2)) && "POST".equals(method)) {
      RenameTableRequest request = read(body, RenameTableRequest.class);
      CatalogHandlers.renameTable(catalog, request);
      return NO_CONTENT;
    }

    if ("views".equals(root) && n == 3 && "rename".equals(p.get(2)) && "POST".equals(method)) {
      RenameTableRequest request = read(body, RenameTableRequest.class);
      CatalogHandlers.renameView(catalog, request);
      return NO_CONTENT;
    }

    if ("transactions".equals(root)
        && n == 3
        && "commit".equals(p.get(2))
        && "POST".equals(method)) {
      CommitTransactionRequest request = read(body, CommitTransactionRequest.class);
      commitTransaction(request);
      return NO_CONTENT;
    }

    if (!"namespaces".equals(root)) {
      throw new NoRouteException("No route for request: " + method + " /" + String.join("/", p));
    }

    if (n == 2) {
      switch (method) {
        case "GET":
          {
            Namespace parent = Namespace.empty();
            String parentParam = query.get("parent");
            if (parentParam != null && !parentParam.isEmpty()) {
              parent =
                  Namespace.of(
                      RESTUtil.NAMESPACE_SPLITTER.splitToStream(parentParam).toArray(String[]::new));
            }
            String pageSize = query.get("pageSize");
            if (pageSize != null) {
              return new Result(
                  200,
                  CatalogHandlers.listNamespaces(catalog, parent, query.get("pageToken"), pageSize));
            }
            return new Result(200, CatalogHandlers.listNamespaces(catalog, parent));
          }
        case "POST":
          {
            CreateNamespaceRequest request = read(body, CreateNamespaceRequest.class);
            return new Result(200, CatalogHandlers.createNamespace(catalog, request));
          }
        default:
          break;
      }
    }

    if (n >= 3) {
      Namespace ns = RESTUtil.decodeNamespace(p.get(2));

      if (n == 3) {
        switch (method) {
          case "GET":
            return new Result(200, CatalogHandlers.loadNamespace(catalog, ns));
          case "HEAD":
            CatalogHandlers.namespaceExists(catalog, ns);
            return NO_CONTENT;
          case "DELETE":
            CatalogHandlers.dropNamespace(catalog, ns);
            return NO_CONTENT;
          default:
            break;
        }
      }

      if (n == 4 && "properties".equals(p.get(3)) && "POST".equals(method)) {
        UpdateNamespacePropertiesRequest request =
            read(body, UpdateNamespacePropertiesRequest.class);
        return new Result(200, CatalogHandlers.updateNamespaceProperties(catalog, ns, request));
      }

      if (n == 4 && "register".equals(p.get(3)) && "POST".equals(method)) {
        RegisterTableRequest request = read(body, RegisterTableRequest.class);
        return new Result(200, CatalogHandlers.registerTable(catalog, ns, request));
      }

      if (n == 4 && "tables".equals(p.get(3))) {
        switch (method) {
          case "GET":
            {
              String pageSize = query.get("pageSize");
              if (pageSize != null) {
                return new Result(
                    200,
                    CatalogHandlers.listTables(catalog, ns, query.get("pageToken"), pageSize));
              }
              return new Result(200, CatalogHandlers.listTables(catalog, ns));
            }
          case "POST":
            {
              CreateTableRequest request = read(body, CreateTableRequest.class);
              request.validate();
              if (request.stageCreate()) {
                return new Result(200, CatalogHandlers.stageTableCreate(catalog, ns, request));
              }
              return new Result(200, CatalogHandlers.createTable(catalog, ns, request));
            }
          default:
            break;
        }
      }

      if (n == 5 && "tables".equals(p.get(3))) {
        TableIdentifier ident = TableIdentifier.of(ns, RESTUtil.decodeString(p.get(4)));
        switch (method) {
          case "GET":
            return new Result(200, CatalogHandlers.loadTable(catalog, ident));
          case "HEAD":
            CatalogHandlers.tableExists(catalog, ident);
            return NO_CONTENT;
          case "POST":
            {
              UpdateTableRequest request = read(body, UpdateTableRequest.class);
              return new Result(200, CatalogHandlers.updateTable(catalog, ident, request));
            }
          case "DELETE":
            if (Boolean.parseBoolean(query.getOrDefault("purgeRequested", "false"))) {
              CatalogHandlers.purgeTable(catalog, ident);
            } else {
              CatalogHandlers.dropTable(catalog, ident);
            }
            return NO_CONTENT;
          default:
            break;
        }
      }

      if (n == 6
          && "tables".equals(p.get(3))
          && "metrics".equals(p.get(5))
          && "POST".equals(method)) {
        // Accepted and ignored, like RESTCatalogAdapter.
        return NO_CONTENT;
      }

      if (n == 4 && "views".equals(p.get(3))) {
        switch (method) {
          case "GET":
            {
              String pageSize = query.get("pageSize");
              if (pageSize != null) {
                return new Result(
                    200, CatalogHandlers.listViews(catalog, ns, query.get("pageToken"), pageSize));
              }
              return new Result(200, CatalogHandlers.listViews(catalog, ns));
            }
          case "POST":
            {
              CreateViewRequest request = read(body, CreateViewRequest.class);
              return new Result(200, CatalogHandlers.createView(catalog, ns, request));
            }
          default:
            break;
        }
      }

      if (n == 5 && "views".equals(p.get(3))) {
        TableIdentifier ident = TableIdentifier.of(ns, RESTUtil.decodeString(p.get(4)));
        switch (method) {
          case "GET":
            return new Result(200, CatalogHandlers.loadView(catalog, ident));
          case "HEAD":
            CatalogHandlers.viewExists(catalog, ident);
            return NO_CONTENT;
          case "POST":
            {
              UpdateTableRequest request = read(body, UpdateTableRequest.class);
              return new Result(200, CatalogHandlers.updateView(catalog, ident, request));
            }
          case "DELETE":
            CatalogHandlers.dropView(catalog, ident);
            return NO_CONTENT;
          default:
            break;
        }
      }
    }

    throw new NoRouteException("No route for request: " + method + " /" + String.join("/", p));
  }

  /**
   * Same approach as RESTCatalogAdapter.commitTransaction: validate and apply every table change
   * in memory first, then commit each table. Runs under the write lock, so no other request of
   * this server interleaves.
   */
  private void commitTransaction(CommitTransactionRequest request) {
    List<Transaction> transactions = new ArrayList<>();
    for (UpdateTableRequest change : request.tableChanges()) {
      Table table = catalog.loadTable(change.identifier());
      if (!(table instanceof BaseTable)) {
        throw new IllegalStateException("Cannot wrap catalog that does not produce BaseTable");
      }
      Transaction transaction =
          Transactions.newTransaction(
              change.identifier().toString(), ((BaseTable) table).operations());
      transactions.add(transaction);
      BaseTransaction.TransactionTable txTable =
          (BaseTransaction.TransactionTable) transaction.table();
      CatalogHandlers.commit(txTable.operations(), change);
    }
    transactions.forEach(Transaction::commitTransaction);
  }

  private <T> T read(byte[] body, Class<T> type) throws IOException {
    if (body.length == 0) {
      throw new BadRequestException("Missing request body for %s", type.getSimpleName());
    }
    T request = mapper.readValue(body, type);
    if (request == null) {
      throw new BadRequestException("Invalid request body for %s", type.getSimpleName());
    }
    if (request instanceof RESTRequest) {
      ((RESTRequest) request).validate(); // IllegalArgumentException -> 400, like the REST spec
    }
    return request;
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP plumbing
  // ---------------------------------------------------------------------------------------------

  private static boolean isMutation(String method, List<String> path) {
    if ("GET".equals(method) || "HEAD".equals(method)) {
      return false;
    }
    return !(path.size() == 6 && "metrics".equals(path.get(5)));
  }

  private void handle(HttpExchange exchange) throws IOException {
    long start = System.nanoTime();
    String method = exchange.getRequestMethod().toUpperCase();
    String rawPath = exchange.getRequestURI().getRawPath();
    int status = 500;
    try (InputStream in = exchange.getRequestBody()) {
      byte[] body = in.readAllBytes();
      List<String> path = splitPath(rawPath);
      Map<String, String> query = parseQuery(exchange.getRequestURI().getRawQuery());

      byte[] payload;
      try {
        Result result;
        if (isMutation(method, path)) {
          writeLock.lock();
          try {
            result = route(method, path, query, body);
          } finally {
            writeLock.unlock();
          }
        } else {
          result = route(method, path, query, body);
        }
        status = result.status;
        if (result.body instanceof byte[]) {
          payload = (byte[]) result.body;
        } else {
          payload = result.body == null ? null : mapper.writeValueAsBytes(result.body);
        }
      } catch (Throwable e) { // NOPMD: every failure becomes a REST error response
        if (e instanceof VirtualMachineError) {
          throw (VirtualMachineError) e;
        }
        Throwable cause = unwrap(e);
        status = statusFor(cause);
        ErrorResponse error =
            ErrorResponse.builder()
                .responseCode(status)
                .withType(typeFor(cause))
                .withMessage(String.valueOf(cause.getMessage()))
                .build();
        payload = mapper.writeValueAsBytes(error);
        if (status >= 500) {
          StringWriter trace = new StringWriter();
          e.printStackTrace(new PrintWriter(trace));
          log("ERROR " + method + " " + rawPath + " -> " + status + "\n" + trace);
        } else {
          log("WARN " + method + " " + rawPath + " -> " + status + " " + typeFor(cause) + ": "
              + cause.getMessage());
        }
      }

      exchange.getResponseHeaders().set("Content-Type", "application/json");
      if ("HEAD".equals(method) || payload == null || status == 204) {
        exchange.sendResponseHeaders(status, -1);
      } else {
        exchange.sendResponseHeaders(status, payload.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(payload);
        }
      }
    } catch (IOException | RuntimeException e) {
      log("ERROR writing response for " + method + " " + rawPath + ": " + e);
      throw e;
    } finally {
      exchange.close();
      long micros = (System.nanoTime() - start) / 1000;
      log(method + " " + rawPath + " " + status + " " + (micros / 1000.0) + "ms");
    }
  }

  /** Jackson wraps exceptions thrown by Iceberg's parsers; report the Iceberg one. */
  private static Throwable unwrap(Throwable e) {
    Throwable t = e;
    while (t instanceof JsonProcessingException
        && t.getCause() != null
        && t.getCause() != t
        && t.getCause() instanceof RuntimeException) {
      t = t.getCause();
    }
    return t;
  }

  static int statusFor(Throwable e) {
    if (e instanceof NoRouteException) {
      return 400;
    } else if (e instanceof IllegalArgumentException
        || e instanceof ValidationException
        || e instanceof BadRequestException
        || e instanceof JsonProcessingException) {
      return 400;
    } else if (e instanceof NotAuthorizedException) {
      return 401;
    } else if (e instanceof ForbiddenException) {
      return 403;
    } else if (e instanceof NoSuchNamespaceException
        || e instanceof NoSuchTableException
        || e instanceof NoSuchViewException) {
      return 404;
    } else if (e instanceof UnsupportedOperationException) {
      return 406;
    } else if (e instanceof AlreadyExistsException
        || e instanceof CommitFailedException
        || e instanceof NamespaceNotEmptyException) {
      return 409;
    } else if (e instanceof UnprocessableEntityException) {
      return 422;
    } else if (e instanceof CommitStateUnknownException) {
      return 500;
    }
    return 500;
  }

  private static String typeFor(Throwable e) {
    if (e instanceof NoRouteException) {
      return "BadRequestException";
    } else if (e instanceof JsonProcessingException) {
      return "BadRequestException";
    }
    return e.getClass().getSimpleName();
  }

  private static List<String> splitPath(String rawPath) {
    List<String> parts = new ArrayList<>();
    for (String part : rawPath.split("/")) {
      if (!part.isEmpty()) {
        parts.add(part);
      }
    }
    return parts;
  }

  private static Map<String, String> parseQuery(String rawQuery) {
    Map<String, String> result = new HashMap<>();
    if (rawQuery == null || rawQuery.isEmpty()) {
      return result;
    }
    for (String pair : rawQuery.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String key = eq < 0 ? pair : pair.substring(0, eq);
      String value = eq < 0 ? "" : pair.substring(eq + 1);
      result.put(RESTUtil.decodeString(key), RESTUtil.decodeString(value));
    }
    return result;
  }

  private static void log(String message) {
    System.err.println(java.time.Instant.now() + " " + message);
  }

  // ---------------------------------------------------------------------------------------------
  // Startup
  // ---------------------------------------------------------------------------------------------

  private static String warehouseUri(String arg) {
    if (arg.startsWith("file:")) {
      return "file://" + LocalFileIO.toFile(arg).getAbsolutePath();
    }
    if (arg.contains("://")) {
      throw new IllegalArgumentException("Only local (file://) warehouses are supported: " + arg);
    }
    return "file://" + new File(arg).getAbsolutePath();
  }

  private static JdbcCatalog openCatalog(String warehouseArg, String dbArg) throws IOException {
    String warehouse = warehouseUri(warehouseArg);
    File warehouseDir = LocalFileIO.toFile(warehouse);
    if (!warehouseDir.isDirectory() && !warehouseDir.mkdirs()) {
      throw new IOException("Cannot create warehouse directory " + warehouseDir);
    }
    File db = new File(dbArg).getAbsoluteFile();
    File dbDir = db.getParentFile();
    if (dbDir != null && !dbDir.isDirectory() && !dbDir.mkdirs()) {
      throw new IOException("Cannot create directory " + dbDir);
    }

    Map<String, String> props = new HashMap<>();
    props.put("uri", "jdbc:sqlite:" + db.getPath());
    props.put("warehouse", warehouse);
    props.put("io-impl", LocalFileIO.class.getName());
    props.put("clients", "8");
    props.put("jdbc.schema-version", "V1"); // enables views
    props.put("jdbc.journal_mode", "WAL");
    props.put("jdbc.busy_timeout", "30000");

    JdbcCatalog catalog = new JdbcCatalog();
    catalog.initialize("featurestore_rest", props);
    log("catalog warehouse=" + warehouse + " db=" + db);
    return catalog;
  }

  /**
   * Build-time check that the class path is complete: relocated Jackson, SQLite JNI, FileIO and
   * the REST parsers, by running a few requests through the router on a temporary catalog.
   */
  private static void selfTest() throws Exception {
    java.nio.file.Path tmp = java.nio.file.Files.createTempDirectory("featurestore-rest-selftest");
    try {
      JdbcCatalog catalog =
          openCatalog(tmp.resolve("warehouse").toString(), tmp.resolve("catalog.db").toString());
      FeaturestoreRestServer app = new FeaturestoreRestServer(catalog);
      Map<String, String> none = Map.of();
      byte[] empty = new byte[0];
      app.route("POST", List.of("v1", "namespaces"), none,
          "{\"namespace\":[\"a\"],\"properties\":{}}".getBytes(StandardCharsets.UTF_8));
      String create =
          "{\"name\":\"t\",\"schema\":{\"type\":\"struct\",\"schema-id\":0,\"fields\":"
              + "[{\"id\":1,\"name\":\"x\",\"required\":false,\"type\":\"long\"}]}}";
      app.route("POST", List.of("v1", "namespaces", "a", "tables"), none,
          create.getBytes(StandardCharsets.UTF_8));
      Result loaded = app.route("GET", List.of("v1", "namespaces", "a", "tables", "t"), none, empty);
      String json = new String(app.mapper.writeValueAsBytes(loaded.body), StandardCharsets.UTF_8);
      if (!json.contains("metadata-location") || !json.contains("file://")) {
        throw new IllegalStateException("unexpected load-table response: " + json);
      }
      try {
        app.route("GET", List.of("v1", "namespaces", "a", "tables", "missing"), none, empty);
        throw new IllegalStateException("expected NoSuchTableException");
      } catch (NoSuchTableException expected) {
        byte[] err =
            app.mapper.writeValueAsBytes(
                ErrorResponse.builder().responseCode(404).withType("x").withMessage("m").build());
        if (!new String(err, StandardCharsets.UTF_8).contains("\"error\"")) {
          throw new IllegalStateException("unexpected error body");
        }
      }
      catalog.close();
    } finally {
      try (java.util.stream.Stream<java.nio.file.Path> walk = java.nio.file.Files.walk(tmp)) {
        walk.sorted(java.util.Comparator.reverseOrder()).map(java.nio.file.Path::toFile)
            .forEach(File::delete);
      }
    }
    System.out.println("SELF-TEST OK");
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 1 && "--self-test".equals(args[0])) {
      selfTest();
      return;
    }
    if (args.length != 3) {
      System.err.println(
          "usage: FeaturestoreRestServer <port|0> <warehouse dir or file:// URI> <sqlite db path>\n"
              + "       FeaturestoreRestServer --self-test");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    JdbcCatalog catalog = openCatalog(args[1], args[2]);

    FeaturestoreRestServer app = new FeaturestoreRestServer(catalog);
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 128);
    AtomicInteger threadIds = new AtomicInteger();
    ThreadFactory threads =
        r -> {
          Thread t = new Thread(r, "rest-" + threadIds.incrementAndGet());
          t.setDaemon(true);
          return t;
        };
    ExecutorService executor = Executors.newFixedThreadPool(THREADS, threads);
    server.setExecutor(executor);
    server.createContext("/", app::handle);
    server.start();

    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  log("shutting down");
                  server.stop(0);
                  executor.shutdown();
                  try {
                    executor.awaitTermination(5, TimeUnit.SECONDS);
                  } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                  }
                  try {
                    catalog.close();
                  } catch (Exception e) {
                    log("error closing catalog: " + e);
                  }
                }));

    if (Boolean.getBoolean("featurestore.exitOnStdinEof")) {
      // The parent keeps our stdin open; if it dies (even by SIGKILL) we get EOF and exit, so a
      // crashed test session does not leave an orphaned server behind.
      Thread watcher =
          new Thread(
              () -> {
                try {
                  while (System.in.read() != -1) {
                    // discard
                  }
                } catch (IOException ignored) {
                  // treat like EOF
                }
                log("stdin closed (parent gone), exiting");
                System.exit(0);
              },
              "stdin-watcher");
      watcher.setDaemon(true);
      watcher.start();
    }

    int bound = server.getAddress().getPort();
    log("Iceberg REST catalog on http://127.0.0.1:" + bound + " args=" + Arrays.toString(args));
    System.out.println("LISTENING " + bound);
    System.out.flush();
  }
}
