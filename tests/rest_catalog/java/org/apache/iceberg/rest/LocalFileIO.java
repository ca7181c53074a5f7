/*
 * featurestore test support: a FileIO for file:// (and plain absolute path) warehouses.
 *
 * Iceberg's default FileIO for JdbcCatalog is HadoopFileIO, which needs Hadoop on the class path.
 * This one wraps Iceberg's own Files.localInput/localOutput and keeps the caller's location string
 * (so metadata locations stay "file:///..." instead of losing their scheme).
 */
package org.apache.iceberg.rest;

import java.io.File;
import java.util.Map;
import org.apache.iceberg.Files;
import org.apache.iceberg.exceptions.RuntimeIOException;
import org.apache.iceberg.io.FileIO;
import org.apache.iceberg.io.InputFile;
import org.apache.iceberg.io.OutputFile;
import org.apache.iceberg.io.PositionOutputStream;
import org.apache.iceberg.io.SeekableInputStream;

/** A {@link FileIO} over the local file system for {@code file:} locations. */
public class LocalFileIO implements FileIO {
  private Map<String, String> properties = Map.of();

  public LocalFileIO() {}

  @Override
  public void initialize(Map<String, String> props) {
    this.properties = props == null ? Map.of() : Map.copyOf(props);
  }

  @Override
  public Map<String, String> properties() {
    return properties;
  }

  /** Maps {@code file:///a/b}, {@code file:/a/b}, {@code file://localhost/a/b} and {@code /a/b}. */
  static File toFile(String location) {
    String path = location;
    if (path.startsWith("file://localhost/")) {
      path = path.substring("file://localhost".length());
    } else if (path.startsWith("file://")) {
      path = path.substring("file://".length());
    } else if (path.startsWith("file:")) {
      path = path.substring("file:".length());
    } else if (path.contains("://")) {
      throw new IllegalArgumentException(
          "LocalFileIO only supports file:// locations, got: " + location);
    }
    if (!path.startsWith("/")) {
      throw new IllegalArgumentException("Not an absolute local path: " + location);
    }
    return new File(path);
  }

  @Override
  public InputFile newInputFile(String location) {
    return new LocalInput(location, Files.localInput(toFile(location)));
  }

  @Override
  public InputFile newInputFile(String location, long length) {
    return newInputFile(location);
  }

  @Override
  public OutputFile newOutputFile(String location) {
    return new LocalOutput(location, Files.localOutput(toFile(location)));
  }

  @Override
  public void deleteFile(String location) {
    File file = toFile(location);
    if (file.exists() && !file.delete()) {
      throw new RuntimeIOException("Failed to delete file: %s", location);
    }
  }

  private static final class LocalInput implements InputFile {
    private final String location;
    private final InputFile delegate;

    LocalInput(String location, InputFile delegate) {
      this.location = location;
      this.delegate = delegate;
    }

    @Override
    public long getLength() {
      return delegate.getLength();
    }

    @Override
    public SeekableInputStream newStream() {
      return delegate.newStream();
    }

    @Override
    public String location() {
      return location;
    }

    @Override
    public boolean exists() {
      return delegate.exists();
    }

    @Override
    public String toString() {
      return location;
    }
  }

  private static final class LocalOutput implements OutputFile {
    private final String location;
    private final OutputFile delegate;

    LocalOutput(String location, OutputFile delegate) {
      this.location = location;
      this.delegate = delegate;
    }

    @Override
    public PositionOutputStream create() {
      return delegate.create();
    }

    @Override
    public PositionOutputStream createOrOverwrite() {
      return delegate.createOrOverwrite();
    }

    @Override
    public String location() {
      return location;
    }

    @Override
    public InputFile toInputFile() {
      return new LocalInput(location, delegate.toInputFile());
    }

    @Override
    public String toString() {
      return location;
    }
  }
}
